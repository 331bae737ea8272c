"""Serving side: the scoring service. Imports the core, never training."""
