"""What dbt's log lines say about its progress: nodes done, of how many, which failed.

dbt prints one result line per node (``12 of 93 OK created sql view model
staging.x .... [OK in 0.35s]``, ``PASS``, ``WARN 2``, ``FAIL 3``, ``ERROR``,
``SKIP``, ``NO-OP``), with colour codes, and lines of other kinds (headers,
``START`` lines, the summary). :class:`DbtProgress` reads plain lines (colour
codes stripped: :func:`strip_ansi`) in any order, from any number of dbt
threads and invocations, and ignores the lines it does not know.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

# "<index> of <total> <STATUS>[ <failures>] <what> ..... [<result>]"; START lines
# ([RUN]) and microbatch lines ("Batch 1 of 3 ...") do not match
_RESULT = re.compile(
    r"^(?P<index>\d+) of (?P<total>\d+) "
    r"(?P<status>OK|PASS|WARN|FAIL|ERROR|SKIP|NO-OP|PARTIALLY)\b(?P<what>.*?)"
    r"\s*\.*\s*\[(?P<result>[^\]]*)\]\s*$"
)
_INVOCATION = "Running with dbt="
_FAILED = ("FAIL", "ERROR", "PARTIALLY")
# names shown on a counter line before "+N more"
SHOWN_NAMES = 3


def strip_ansi(text: str) -> str:
    """``text`` without terminal colour and cursor codes."""
    return _ANSI.sub("", text)


@dataclass(frozen=True)
class NodeResult:
    """One node's result line."""

    index: int
    total: int
    status: str  # OK, PASS, WARN, FAIL, ERROR, SKIP, NO-OP, PARTIALLY
    name: str  # staging.stg_raw__accounts, not_null_x_id, model::unit_test

    @property
    def failed(self) -> bool:
        return self.status in _FAILED

    @property
    def warned(self) -> bool:
        return self.status == "WARN"


def parse_result(line: str) -> NodeResult | None:
    """The node result a plain dbt line reports, or None (any other line, hooks)."""
    match = _RESULT.match(line.strip())
    if match is None:
        return None
    what = match["what"].strip()
    if what.startswith("hook:"):  # on-run-start/end hooks are numbered on their own
        return None
    what = what.split(" due to ", 1)[0]  # SKIP relation x due to ephemeral model status ...
    words = what.split()
    return NodeResult(
        index=int(match["index"]),
        total=int(match["total"]),
        status=match["status"],
        name=words[-1] if words else "?",
    )


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN_NAMES])
    more = len(names) - SHOWN_NAMES
    return f"{shown}, +{more} more" if more > 0 else shown


@dataclass
class DbtProgress:
    """Nodes done and failed over every dbt invocation of a run.

    An invocation starts at dbt's ``Running with dbt=`` line (or at a result
    line of another total); ``total`` adds up the invocations' totals. A node
    reported twice counts once.
    """

    done: int = 0
    total: int = 0
    failed: list[str] = field(default_factory=list)
    warned: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    invocations: int = 0
    _seen: set[int] = field(default_factory=set, repr=False)
    _invocation_total: int | None = field(default=None, repr=False)

    def feed(self, line: str) -> NodeResult | None:
        """Count one plain line; the node result it reports, if any."""
        if line.startswith(_INVOCATION):
            self._invocation_total = None
            return None
        result = parse_result(line)
        if result is None:
            return None
        if result.total != self._invocation_total:
            self.invocations += 1
            self.total += result.total
            self._invocation_total = result.total
            self._seen = set()
        if result.index in self._seen:
            return None
        self._seen.add(result.index)
        self.done += 1
        if result.failed:
            self.failed.append(result.name)
        elif result.warned:
            self.warned.append(result.name)
        elif result.status == "SKIP":
            self.skipped.append(result.name)
        return result

    @property
    def started(self) -> bool:
        """Whether any node result was read."""
        return self.total > 0

    def counter(self) -> str:
        """``  dbt   57/93 nodes  1 failed: test_x  2 skipped``."""
        width = len(str(self.total))
        text = f"  dbt  {self.done:>{width}}/{self.total} nodes"
        if self.failed:
            text += f"  {len(self.failed)} failed: {_names(self.failed)}"
        if self.warned:
            text += f"  {len(self.warned)} warned: {_names(self.warned)}"
        if self.skipped:
            text += f"  {len(self.skipped)} skipped"
        return text

    def summary(self) -> str:
        """One line for the end of a run: ``dbt: 93 of 93 nodes, 1 failed (x), 0 warned``."""
        text = f"dbt: {self.done} of {self.total} nodes"
        for label, names in (("failed", self.failed), ("warned", self.warned)):
            text += f", {len(names)} {label}" + (f" ({_names(names)})" if names else "")
        if self.skipped:
            text += f", {len(self.skipped)} skipped"
        return text
