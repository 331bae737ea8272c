"""The Spark engine: each unit is scored on the cluster through MLflow's own ``mlflow.pyfunc.spark_udf``.

How it works. The driver reads, validates and writes (``threatscore.batch.io``, shared with the local engine, so
line numbers, errors and output files are the same whichever engine ran); only valid articles go to Spark. Each
unit becomes a DataFrame repartitioned over the cluster's cores and goes through
``spark_udf(spark, models:/threatscore/<N>, result_type=<Assessment as a Spark struct>, env_manager="local")``:
the struct is derived from the pydantic ``Assessment``, so the pyfunc's own output (a list of Assessment dicts)
comes back typed and whole, and the model is the same pyfunc the API loads. An alias is resolved to a pinned
version first, so every executor loads the same version even if the alias moves during the run. The rows come
back to the driver (Arrow) in input order and are flattened by the one function the local engine uses.

Why the driver does the I/O: accounting (every input row is either scored or reported with its line) and
resumption (one atomic part file per unit) stay exact and identical to the local engine, and the output can
live on the driver's disk. Model inference, the expensive part by two orders of magnitude, is what is spread
over the executors; a unit's text crosses the network once each way.

Running on a real cluster::

    # a tracking server both the driver and the registry live behind (the driver resolves and downloads the
    # model; spark_udf ships it to the executors, which need no registry access)
    export THREATSCORE_TRACKING_URI=http://mlflow.internal:5000
    threatscore score-batch /data/archive/ -o /data/scored/ --engine spark --master spark://spark-master:7077 \\
        --chunk-size 50000 --conf spark.executor.memory=4g
    # or through spark-submit (its --master / --conf apply when --master is not given; client mode, since the
    # driver reads and writes the paths given on the machine it runs on; spark-submit runs a .py file):
    spark-submit --master yarn --deploy-mode client --conf spark.executor.memory=4g \\
        "$(python -c 'import threatscore_cli.score_batch as m; print(m.__file__)')" \\
        score-batch /data/archive/ -o /data/scored/ --engine spark

Every executor needs the same Python with the threatscore package installed (``pip install threatscore`` from
the same commit, or a shipped venv via ``spark.archives`` + ``PYSPARK_PYTHON``): the Python workers start from
``threatscore.batch.spark_daemon``, which imports it, so executors score with exactly the code the API runs.
``env_manager="local"`` is deliberate: ``virtualenv``/``uv``/``conda`` would rebuild the model's logged
environment on every executor (package-index access at run time) and score with the code logged with the model
instead of the installed one. In local mode MLflow loads the model once per task, so units should be large
enough to keep that cost small (``--chunk-size``); on a cluster it is cached per Python worker.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import shutil
import sys
import tempfile
import types
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from threatscore.batch.io import ARTICLE_FIELDS
from threatscore.registry import ModelRef
from threatscore.schemas import Assessment
from threatscore.settings import OFFLINE_ENV

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.types import DataType

logger = logging.getLogger(__name__)

DEFAULT_MASTER = "local[*]"
#: Fewest articles per Spark partition: in local mode every task loads the model, so tiny tasks cost more than
#: they share out.
MIN_ROWS_PER_PARTITION = 256

#: Session settings every run gets (``conf`` given to ``build_session`` overrides them).
DEFAULT_CONF: dict[str, str] = {
    "spark.app.name": "threatscore-score-batch",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",  # tqdm reports progress; Spark's bar would interleave with it
    "spark.driver.memory": "2g",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.python.daemon.module": "threatscore.batch.spark_daemon",
}


def spark_type(annotation: Any) -> DataType:
    """The Spark type of a pydantic annotation (models → structs, in field order; dicts → maps)."""
    from pyspark.sql import types as t

    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return spark_type(args[0])
    if origin in (Union, types.UnionType):
        present = [a for a in args if a is not type(None)]
        if len(present) != 1:
            raise TypeError(f"no Spark type for the union {annotation}")
        return spark_type(present[0])
    if origin is Literal:
        return t.StringType()
    if origin is list:
        return t.ArrayType(spark_type(args[0]))
    if origin is dict:
        return t.MapType(t.StringType(), spark_type(args[1]))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        fields = annotation.model_fields.items()
        return t.StructType([t.StructField(name, spark_type(field.annotation)) for name, field in fields])
    scalars: dict[Any, DataType] = {
        str: t.StringType(),
        float: t.DoubleType(),
        int: t.LongType(),
        bool: t.BooleanType(),
    }
    if annotation in scalars:
        return scalars[annotation]
    raise TypeError(f"no Spark type for {annotation!r}")


def assessment_struct() -> DataType:
    """``Assessment`` as the Spark struct that ``spark_udf`` fills from the pyfunc's Assessment dicts."""
    return spark_type(Assessment)


def from_spark(value: Any, dtype: DataType) -> Any:
    """A value read back through Arrow → the plain JSON-ready Python value the pyfunc returned
    (maps arrive as lists of (key, value) pairs; their order is kept)."""
    from pyspark.sql import types as t

    if value is None:
        return None
    if isinstance(dtype, t.StructType):
        return {f.name: from_spark(value[f.name], f.dataType) for f in dtype.fields}
    if isinstance(dtype, t.MapType):
        return {k: from_spark(v, dtype.valueType) for k, v in value}
    if isinstance(dtype, t.ArrayType):
        return [from_spark(v, dtype.elementType) for v in value]
    return value


#: Driver log4j2 settings: warnings and errors only, and none of the start-up banners (the level is WARN, not
#: ERROR, because Spark prints "Setting default log level" whenever an interactive session's root level differs).
_LOG4J2 = """\
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
logger.native.name = org.apache.hadoop.util.NativeCodeLoader
logger.native.level = error
"""


def _log4j2_option() -> str:
    """A JVM option pointing log4j2 at ``_LOG4J2`` (written once to the temp folder, named by its content)."""
    digest = hashlib.sha1(_LOG4J2.encode()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"threatscore-spark-log4j2-{digest}.properties"
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(_LOG4J2, encoding="utf-8")
        tmp.replace(path)
    return f"-Dlog4j2.configurationFile={path.as_uri()}"


def build_session(master: str | None = None, conf: Mapping[str, str] | None = None) -> SparkSession:
    """A SparkSession for scoring: UI off, Arrow on, quiet logs, workers started by ``spark_daemon``.

    ``master`` None means ``local[*]``, unless this process runs under ``spark-submit``, whose ``--master`` then
    stands. In local mode the driver binds to 127.0.0.1 and the workers use this Python.
    """
    import mlflow
    from pyspark.sql import SparkSession

    under_submit = "PYSPARK_GATEWAY_PORT" in os.environ  # spark-submit started the JVM and set its master
    if not under_submit and not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        raise RuntimeError("the Spark engine needs Java 17 or newer: install a JRE or set JAVA_HOME")
    if master is None and not under_submit:
        master = DEFAULT_MASTER
    if master is not None and master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    settings = dict(DEFAULT_CONF)
    # Executors run offline like the rest of threatscore, and know the tracking server the driver uses.
    settings.update({f"spark.executorEnv.{k}": v for k, v in OFFLINE_ENV.items()})
    settings["spark.executorEnv.MLFLOW_TRACKING_URI"] = mlflow.get_tracking_uri()
    if not under_submit:  # under spark-submit the JVM runs already, with the logging its user chose
        settings["spark.driver.extraJavaOptions"] = _log4j2_option()
    settings.update(conf or {})
    builder = SparkSession.builder
    if master is not None:
        builder = builder.master(master)
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    return spark


class SparkEngine:
    """Scores units on a SparkSession through ``mlflow.pyfunc.spark_udf``."""

    name = "spark"

    def __init__(
        self,
        ref: ModelRef,
        *,
        master: str | None = None,
        conf: Mapping[str, str] | None = None,
        spark: SparkSession | None = None,
    ) -> None:
        import mlflow.pyfunc

        self.ref = ref
        self._own_session = spark is None
        self.spark = spark if spark is not None else build_session(master, conf)
        self.struct = assessment_struct()
        pyfunc_logger = logging.getLogger("mlflow.pyfunc")
        level = pyfunc_logger.level
        # env_manager="local" is the documented choice (module docstring); MLflow warns about it on every call.
        pyfunc_logger.setLevel(logging.ERROR)
        try:
            self.udf = mlflow.pyfunc.spark_udf(
                self.spark,
                ref.pinned_uri,
                result_type=self.struct,
                env_manager="local",
                # What LoadedModel.predict stamps on every assessment: the version and the alias asked for.
                params={"model_version": ref.version or "", "model_alias": ref.alias or ""},
            )
        finally:
            pyfunc_logger.setLevel(level)

    def partitions(self, rows: int) -> int:
        """Spread a unit over the cluster's cores, but not thinner than ``MIN_ROWS_PER_PARTITION`` rows a task."""
        cores = max(1, self.spark.sparkContext.defaultParallelism)
        return max(1, min(cores, math.ceil(rows / MIN_ROWS_PER_PARTITION)))

    def score(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One Assessment dict per record, in order, scored on the executors.

        Only valid articles get here (the runner validated them with the Article model the pyfunc validates
        with), so every result is an Assessment; an error dict could not fill the struct and would fail the unit
        loudly in MLflow's conversion rather than be lost.
        """
        import pandas as pd
        from pyspark.sql import functions as f

        if not records:
            return []
        frame = pd.DataFrame.from_records(records, columns=list(ARTICLE_FIELDS))
        frame.insert(0, "_row", range(len(frame)))
        schema = "_row long, " + ", ".join(f"{name} string" for name in ARTICLE_FIELDS)
        articles = self.spark.createDataFrame(frame, schema=schema).repartition(self.partitions(len(frame)))
        scored = articles.select("_row", self.udf(f.struct(*ARTICLE_FIELDS)).alias("assessment")).toArrow()
        scored = scored.sort_by("_row")
        return [from_spark(v, self.struct) for v in scored.column("assessment").to_pylist()]

    def describe(self) -> dict[str, Any]:
        """What the summary records about this engine."""
        context = self.spark.sparkContext
        return {
            "engine": self.name,
            "master": context.master,
            "default_parallelism": context.defaultParallelism,
            "spark_version": self.spark.version,
        }

    def close(self) -> None:
        """Stop the session if this engine started it."""
        if self._own_session:
            self.spark.stop()
