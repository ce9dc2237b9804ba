"""The shared pipeline run of the integration tests: two runs of one dataset.

The first run loads every file but the last day's; the second adds the last
day (an incremental run). The marts the tests read are the second run's, so
every comparison with the ground truth also checks the incremental path.
The run is ``shared_run`` of tests/conftest.py, shared with the e2e tests that
start from it. Tests that run the pipeline again belong in tests/e2e.
"""

import pytest

from tests.conftest import PipelineRun


@pytest.fixture(scope="session")
def pipeline_run(shared_run: PipelineRun) -> PipelineRun:
    return shared_run
