"""Zero-setup registration of the ``azof`` format with PySpark (the ``spark`` extra).

PySpark (4.0 and newer) looks for top-level modules named ``pyspark_*`` that define
``DefaultSource`` and registers each under its name when a session first uses a Python data
source, so ``spark.read.format("azof")`` and ``df.write.format("azof")`` work with no
``azof.spark.register(spark)`` call. Spark's Python workers must run an interpreter with
azof installed (``PYSPARK_PYTHON``; see ``docs/spark.md``).
"""

from azof.spark.source import AzofDataSource as DefaultSource

__all__ = ["DefaultSource"]
