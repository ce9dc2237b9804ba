"""The shared pipeline run of the integration tests: two runs of one dataset.

The first run loads every file but the last day's; the second adds the last
day (an incremental run). The marts the tests read are the second run's, so
every comparison with the ground truth also checks the incremental path.
"""

import pytest

from tests.conftest import PipelineRun, dataset_run


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory) -> PipelineRun:
    return dataset_run(tmp_path_factory, "seed7-csv", incremental=True)
