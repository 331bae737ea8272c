"""Training side: corpus building, experiments, baselines, evaluation. Imports the core, never serving."""
