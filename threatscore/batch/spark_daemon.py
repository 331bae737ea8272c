"""The PySpark daemon for ``score-batch --engine spark``: every Python worker starts with the installed threatscore.

Spark forks its Python workers from one daemon process per executor. MLflow puts a model's own copy of the code
(the ``code/`` folder logged with the model) first on ``sys.path`` when it loads the model, so a fresh worker would
score with the code as it was when that model was logged, while the API and the local engine score with the
installed package. Importing the installed package here, before any fork, makes the executors run exactly the
code the API runs (the logged copy still serves a bare MLflow environment without threatscore installed).

Spark runs it as ``python -m threatscore.batch.spark_daemon`` when ``spark.python.daemon.module`` names it
(``threatscore.batch.spark.build_session`` sets that); nothing happens on a plain import.
"""

from __future__ import annotations


def main() -> None:
    """Import the scoring code, then hand over to PySpark's own daemon loop."""
    from pyspark.daemon import manager

    import threatscore.pyfunc  # noqa: F401  (the point: cached in sys.modules before MLflow loads a model)

    manager()


if __name__ == "__main__":
    main()
