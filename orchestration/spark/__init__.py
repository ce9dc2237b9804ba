"""Apache Spark as the warehouse engine (``WA_ENGINE=spark``, docs/spark.md)."""
