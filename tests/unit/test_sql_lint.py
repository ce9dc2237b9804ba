"""`make lint` runs sqlfluff with the repo's configuration, and that
configuration holds the house style: it rejects what the style forbids and
accepts what the models write.

The dbt templater that `make lint` uses compiles the whole project (tens of
seconds), so the statements here go through the repo's .sqlfluff with the raw
templater instead: the same dialect, rules and layout settings.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest
from sqlfluff.core import FluffConfig, Linter

ROOT = Path(__file__).resolve().parents[2]

# What the house style forbids, one habit per line: uppercase keywords and
# functions, a column expression and a table without `as`.
BAD_STATEMENT = """\
SELECT
    account_id,
    COUNT(*) messages
FROM int_messages m
GROUP BY account_id
"""

# The models' own layout: CTEs, one column per line, trailing commas, joins
# with `on` and `and` lined up under them, hanging `where` conditions, a short
# union all branch on one line, contract columns named `rows` and `source`.
HOUSE_STYLE = """\
with

messages as (
    select * from int_messages
    where is_sent
        and recipient_country is not null
),

campaigns as (
    select * from int_campaigns
),

final as (
    select
        messages.account_id,
        messages.campaign_id,
        campaigns.template_name,
        count(*) as rows,
        'dispatches' as source
    from messages
    left join campaigns
        on messages.account_id = campaigns.account_id
        and messages.campaign_id = campaigns.campaign_id
    group by all
)

select account_id, campaign_id, template_name, rows, source from final
union all
select account_id, campaign_id, null as template_name, 0 as rows, 'none' as source from final
"""


@pytest.fixture(scope="module")
def linter() -> Linter:
    config = FluffConfig.from_path(str(ROOT), overrides={"templater": "raw"})
    return Linter(config=config)


def _codes(linter: Linter, sql: str) -> set[str]:
    linted = linter.lint_string(sql, fname="statement.sql")
    return {violation.rule_code() for violation in linted.get_violations()}


def test_make_lint_runs_sqlfluff_over_models_and_tests_with_the_repo_config() -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    dry_run = subprocess.run(
        ["make", "-n", "--no-print-directory", "lint"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    commands = [shlex.split(line) for line in dry_run.splitlines() if "sqlfluff" in line]
    assert len(commands) == 1, dry_run
    command = commands[0]
    # no warehouse file: the profile reads WA_WAREHOUSE_PATH
    assert "WA_WAREHOUSE_PATH=:memory:" in command
    sqlfluff = command.index(next(word for word in command if word.endswith("/sqlfluff")))
    assert command[sqlfluff + 1 : sqlfluff + 4] == ["lint", "models", "tests/dbt"]
    # the repo's .sqlfluff, not a configuration of the command line
    assert not {"--config", "--dialect", "--templater", "--rules"} & set(command)
    ruff = [line for line in dry_run.splitlines() if "ruff" in line]
    assert any("ruff check" in line for line in ruff)
    assert any("ruff format --check" in line for line in ruff)


def test_repo_config_lints_dbt_duckdb_without_touching_the_real_target() -> None:
    config = FluffConfig.from_path(str(ROOT))
    assert config.get("dialect") == "duckdb"
    assert config.get("templater") == "dbt"
    dbt = config.get_section(("templater", "dbt"))
    assert _from_root(dbt["project_dir"]) == ROOT
    assert _from_root(dbt["profiles_dir"]) == ROOT
    assert (dbt["profile"], dbt["target"]) == ("wa_warehouse", "local")
    # dbt's parse during a lint writes here, not over the manifest Dagster reads
    assert _from_root(dbt["target_path"]) == ROOT / "target" / "sqlfluff"


def _from_root(configured: str) -> Path:
    """A configured path as `make lint` (run from the root) uses it: sqlfluff
    makes a relative path absolute only once it exists, and target/sqlfluff
    does not exist on a fresh clone until the first lint."""
    return (ROOT / configured).resolve()


def test_repo_config_rejects_uppercase_keywords_and_implicit_aliases(linter: Linter) -> None:
    codes = _codes(linter, BAD_STATEMENT)
    assert "CP01" in codes  # SELECT, FROM, GROUP BY
    assert "CP03" in codes  # COUNT
    assert "AL02" in codes  # COUNT(*) messages
    assert "AL01" in codes  # int_messages m


def test_repo_config_accepts_the_house_style(linter: Linter) -> None:
    assert _codes(linter, HOUSE_STYLE) == set()


def test_repo_config_keeps_select_lists_in_their_published_order(linter: Linter) -> None:
    # a calculation before a plain column: reordering it (ST06) would reorder
    # a published table's columns
    assert _codes(linter, "select\n    count(*) as messages,\n    account_id\nfrom t\n") == set()
