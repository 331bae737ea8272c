"""The `threatscore` command line: a thin layer that calls the core, training and serving."""
