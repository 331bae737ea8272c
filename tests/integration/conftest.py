"""Integration tests use the shared ``mlflow_settings`` and ``registered_tiny`` fixtures of tests/conftest.py."""
