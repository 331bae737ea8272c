"""threatscore core: schemas, taxonomy, text handling, places, risk and the scorer.

The core imports neither ``training`` nor ``serving``; both import it.
"""

__version__ = "0.1.0"
