"""End-to-end fixtures: the second dataset (another seed, Parquet extracts), built in one run."""

import pytest

from tests.conftest import PipelineRun, dataset_run


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory) -> PipelineRun:
    return dataset_run(tmp_path_factory, "seed2026-parquet")
