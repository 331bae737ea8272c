"""Archive scoring: ``score_batch`` scores a folder of Parquet / JSON Lines articles into Parquet assessments.

Two engines, one result: ``local`` (this process, in bounded chunks) and ``spark`` (MLflow's ``spark_udf`` on
any Spark master). Both read and validate through ``threatscore.batch.io``, score with the same registered pyfunc
and flatten with ``threatscore.batch.flatten``, so a row is identical whichever engine wrote it. Runs are
resumable (a manifest of finished parts) and lossless (every input row is scored or reported as an error).
Submitting to a real cluster: see ``threatscore.batch.spark``.

Nothing here imports pyspark until the spark engine starts.
"""

from threatscore.batch.io import BatchInputError
from threatscore.batch.runner import DEFAULT_CHUNK_SIZE, DEFAULT_MODEL, score_batch

__all__ = ["DEFAULT_CHUNK_SIZE", "DEFAULT_MODEL", "BatchInputError", "score_batch"]
