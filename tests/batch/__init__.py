"""Archive scoring: score-batch on the local engine and on Spark."""
