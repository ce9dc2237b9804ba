"""The marts contract at work: dbt refuses a mart whose SQL breaks it.

One ``dbt run`` of three marts on a throw-away warehouse whose inputs are
written by hand (dbt reads a model it does not build as the relation that is
there): a duplicated key, a null key and a wrong column type. Each mart fails
its build and the table of the previous build stays as it was. That a failed
dbt step publishes nothing is tested in test_dbt_build.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from orchestration.defs.dbt_project import dbt_resource

pytestmark = pytest.mark.slow

INPUTS = """
create schema reference;
create schema intermediate;
create schema marts;

-- reason_dictionary: one (kind, reason) twice -> its primary key rejects the table
create table reference.reasons (
    kind varchar, reason varchar, description varchar, possible_solution varchar
);
insert into reference.reasons values
    ('dropped', 'Invalid Number', 'one text', 'one fix'),
    ('dropped', 'Invalid Number', 'another text', 'another fix');
-- what the previous build published
create table marts.reason_dictionary as
select 'dropped' as kind, 'Previous' as reason, 'kept' as description, 'kept' as possible_solution;

-- dropped_reasons: a dropped message without an account -> a null key
create table intermediate.int_messages (
    account_id varchar, campaign_id varchar, cohort_date date,
    dropped_reason varchar, is_dropped boolean
);
insert into intermediate.int_messages values
    ('acc_01', 'cmp_0001', date '2026-10-01', 'Invalid Number', true),
    (null, 'cmp_0001', date '2026-10-01', 'Invalid Number', true);

-- data_quality: check_name an integer where the contract says varchar
create table intermediate.int_data_quality_checks (
    check_name integer, source varchar, rows bigint, details varchar
);
insert into intermediate.int_data_quality_checks values (1, null, 0, 'a number');
"""


def test_a_mart_that_breaks_its_contract_fails_and_the_previous_table_stays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute(INPUTS)
    monkeypatch.setenv("WA_WAREHOUSE_PATH", str(warehouse))
    monkeypatch.setenv("WA_AS_OF", "2026-11-01T00:00:00Z")
    target = tmp_path / "target"

    invocation = dbt_resource().cli(
        ["run", "--select", "reason_dictionary dropped_reasons data_quality"],
        target_path=target,
        raise_on_error=False,
    )
    invocation.wait()

    assert not invocation.is_successful()
    results = json.loads((target / "run_results.json").read_text())["results"]
    messages = {r["unique_id"].split(".")[-1]: r["message"] or "" for r in results}
    assert {r["status"] for r in results} == {"error"}, messages
    assert "PRIMARY KEY or UNIQUE constraint violat" in messages["reason_dictionary"]
    assert "NOT NULL constraint failed" in messages["dropped_reasons"]
    assert "account_id" in messages["dropped_reasons"]
    assert "enforced contract that failed" in messages["data_quality"]
    assert "check_name" in messages["data_quality"]

    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select * from marts.reason_dictionary").fetchall() == [
            ("dropped", "Previous", "kept", "kept")
        ]
        tables = {t for (t,) in con.execute("select table_name from duckdb_tables()").fetchall()}
    assert not {"dropped_reasons", "data_quality"} & tables
    assert not [t for t in tables if t.endswith(("__dbt_tmp", "__dbt_backup"))]
