"""``wa-dbt``: the dbt executable the Dagster dbt resource runs.

It is dbt itself (``exec`` of the venv's ``dbt`` with the same arguments),
except for ``wa-dbt --version``, which it answers from the installed packages'
metadata in ~50 ms. dagster-dbt runs ``<dbt_executable> --version`` before
every build to learn the dbt major version; dbt's own ``--version`` imports
dbt and asks the package index for the latest release (a 1 s timeout): about
4 s before every run starts, on a machine without internet too. The answer
here names the same installed versions, without the latest-release lookup.
Everything else, analysts' ``dbt`` commands included, is plain dbt, with
``JAVA_HOME`` pointing at a Java runtime for the ``spark`` target
(orchestration/spark/jvm.py) unless the environment sets one.
"""

from __future__ import annotations

import os
import sys
from importlib import metadata
from pathlib import Path

from orchestration.spark.jvm import set_java_home

#: the real dbt, beside this interpreter (the project's venv)
DBT = Path(sys.executable).parent / "dbt"


def adapter_versions() -> dict[str, str]:
    """``{adapter: version}`` of the installed dbt adapter plugins (the distributions
    that ship ``dbt/adapters/<name>/__version__.py``, as dbt's own ``--version`` lists)."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        for file in dist.files or ():
            parts = file.parts
            if (
                len(parts) == 4
                and parts[:2] == ("dbt", "adapters")
                and parts[3] == "__version__.py"
            ):
                found[parts[2]] = dist.version
    return dict(sorted(found.items()))


def version_text() -> str:
    """What ``dbt --version`` prints, from local metadata only."""
    lines = ["Core:", f"  - installed: {metadata.version('dbt-core')}", "", "Plugins:"]
    lines += [f"  - {name}: {version}" for name, version in adapter_versions().items()]
    lines += ["", "(wa-dbt: installed versions only; run `dbt --version` for the latest release)"]
    return "\n".join(lines)


def main() -> None:
    arguments = sys.argv[1:]
    if arguments == ["--version"]:
        print(version_text())
        return
    set_java_home()
    os.execv(DBT, [str(DBT), *arguments])


if __name__ == "__main__":
    main()
