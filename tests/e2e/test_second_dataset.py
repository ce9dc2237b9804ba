"""The ground-truth comparisons of tests/integration/test_end_to_end.py on the
second dataset (another seed, shape and format: Parquet extracts), built in
one run from scratch (tests/e2e/conftest.py)."""

from tests.integration.test_end_to_end import *  # noqa: F403  (collected here with this folder's pipeline_run)
