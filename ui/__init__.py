"""The model comparison UI (``threatscore ui``): registered versions side by side, per label and per example.

An app like the CLI: it may import ``training`` and ``serving``; the core (``threatscore``) never imports it.
"""
