"""``wa-warehouse trace``: one message's path, from the published marts.

``wa-warehouse trace --dispatch ID`` prints the path of one message from
``marts.message_lineage``: its dispatch (or drop), every status with its error
code and the reason the code maps to, replies, clicks, the conversions and
unsubscribes attributed to it, and its state at the as-of time with the reason
and the possible solution. ``--user ID [--campaign ID]`` prints the messages of
one user the same way, newest first (at most ``--limit``). Support answers
"why did this user not get the message" from it without touching raw tables.

Like ``wa-warehouse report`` it reads the *serving* copy of the marts (opened
read-only), never the working warehouse. The mart covers the messages of the
last ``WA_LINEAGE_DAYS`` cohort dates (default 45) before the as-of time; an
older message is reported as not found, with the covered range.

The dashboard's message trace section looks an id up through the same queries:
:func:`find_messages` (a dispatch id, else a user id) and :func:`load_paths`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from orchestration.config import ConfigError, Settings
from orchestration.report import lineage_window, open_serving, publication_as_of

MART = "message_lineage"
DEFAULT_LIMIT = 10

#: The columns :func:`load_paths` reads, in this order (:class:`Event` fields).
EVENT_COLUMNS = (
    "dispatch_id", "event_seq", "account_id", "campaign_id", "user_id", "wamid",
    "cohort_date", "event_at", "event_kind", "message_state", "reason",
    "possible_solution", "detail",
)  # fmt: skip


@dataclass(frozen=True)
class Event:
    """One row of marts.message_lineage, as the trace prints it."""

    dispatch_id: str
    event_seq: int
    account_id: str
    campaign_id: str
    user_id: str | None
    wamid: str | None
    cohort_date: date
    event_at: datetime
    event_kind: str
    message_state: str
    reason: str | None
    possible_solution: str | None
    detail: str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--dispatch", metavar="ID", help="one message, by its dispatch id")
    which.add_argument("--user", metavar="ID", help="the messages of one user (user_id)")
    parser.add_argument(
        "--campaign", metavar="ID", help="with --user: only the messages of this campaign"
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"with --user: the newest N messages (default {DEFAULT_LIMIT})",
    )
    parser.add_argument(
        "--serving",
        type=Path,
        metavar="FILE",
        help="published marts file, opened read-only (env WA_SERVING_PATH)",
    )


# --------------------------------------------------------------------------- queries


def check_lineage_mart(con: duckdb.DuckDBPyConnection) -> None:
    """A ConfigError when the publication has no marts.message_lineage."""
    (found,) = con.execute(
        """
        select count(*) from information_schema.tables
        where table_catalog = current_database()
            and table_schema = 'marts' and table_name = $name
        """,
        {"name": MART},
    ).fetchone() or (0,)
    if not found:
        raise ConfigError(
            f"the published marts have no marts.{MART} (a publication older than the "
            "message lineage): run `wa-warehouse run` to publish it again"
        )


def covered(con: duckdb.DuckDBPyConnection) -> str:
    """The cohort dates the mart covers, for a not-found message (and the dashboard)."""
    first, last = lineage_window(con)
    if first is None:
        return f"marts.{MART} is empty"
    return (
        f"marts.{MART} covers the messages of cohort dates {first} to {last} "
        "(the last WA_LINEAGE_DAYS days before the as-of time, 45 by default)"
    )


def _closest(con: duckdb.DuckDBPyConnection, columns: Sequence[str], value: str) -> list[str]:
    known = " union ".join(
        f"select distinct {column} as id from marts.{MART} where event_seq = 1"
        for column in columns
    )
    rows = con.execute(
        f"""
        select id from ({known})
        where id is not null
        order by levenshtein(id, $value), id
        limit 3
        """,
        {"value": value},
    ).fetchall()
    return [row[0] for row in rows]


def not_found(
    con: duckdb.DuckDBPyConnection, what: str, columns: Sequence[str], value: str
) -> ConfigError:
    """The error of an id the mart does not know: the cohort dates it covers and the
    closest ids it knows in ``columns``."""
    close = _closest(con, columns, value)
    hint = f"; closest known: {', '.join(close)}" if close else ""
    return ConfigError(f"unknown {what} {value!r}: {covered(con)}{hint}")


def has_dispatch(con: duckdb.DuckDBPyConnection, dispatch: str) -> bool:
    """Whether the mart holds the message ``dispatch``."""
    (found,) = con.execute(
        f"select count(*) from marts.{MART} where dispatch_id = $id and event_seq = 1",
        {"id": dispatch},
    ).fetchone() or (0,)
    return bool(found)


def user_dispatches(con: duckdb.DuckDBPyConnection, user: str) -> list[tuple[str, str]]:
    """(dispatch_id, campaign_id) of every message of ``user`` in the mart, newest first."""
    return con.execute(
        f"""
        select dispatch_id, campaign_id
        from marts.{MART}
        where user_id = $user and event_seq = 1
        order by event_at desc, dispatch_id desc
        """,
        {"user": user},
    ).fetchall()


def dispatches_of(
    con: duckdb.DuckDBPyConnection,
    *,
    dispatch: str | None = None,
    user: str | None = None,
    campaign: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> tuple[list[str], int]:
    """The dispatch ids to print (newest first) and how many the selection holds.

    Exactly one of ``dispatch`` and ``user``; ``campaign`` narrows ``user``. An id the
    mart does not know is a ConfigError naming the covered cohort dates.
    """
    if (dispatch is None) == (user is None):
        raise ConfigError("give exactly one of --dispatch and --user")
    if dispatch is not None:
        if campaign is not None:
            raise ConfigError("--campaign narrows --user: a dispatch is one message already")
        if not has_dispatch(con, dispatch):
            raise not_found(con, "dispatch", ["dispatch_id"], dispatch)
        return [dispatch], 1
    if limit < 1:
        raise ConfigError(f"--limit {limit} must be at least 1")
    rows = user_dispatches(con, str(user))
    if not rows:
        raise not_found(con, "user", ["user_id"], str(user))
    if campaign is not None:
        campaigns = sorted({row[1] for row in rows})
        rows = [row for row in rows if row[1] == campaign]
        if not rows:
            raise ConfigError(
                f"user {user!r} has no message of campaign {campaign!r} in marts.{MART}; "
                f"their campaigns there: {', '.join(campaigns)}"
            )
    return [row[0] for row in rows[:limit]], len(rows)


def find_messages(
    con: duckdb.DuckDBPyConnection, value: str, *, limit: int = DEFAULT_LIMIT
) -> tuple[str, list[str], int]:
    """One id that may be a dispatch's or a user's (the dashboard's single input): the
    dispatch if the mart has it, else the user's messages as ``--user`` lists them.
    Returns ("dispatch" or "user", the dispatch ids, how many the id has); an id that is
    neither is a ConfigError naming the covered cohort dates, as the trace's."""
    value = value.strip()
    if not value:
        raise ConfigError("give a dispatch id or a user id")
    if has_dispatch(con, value):
        return "dispatch", [value], 1
    rows = user_dispatches(con, value)
    if not rows:
        raise not_found(con, "dispatch or user", ["dispatch_id", "user_id"], value)
    return "user", [row[0] for row in rows[:limit]], len(rows)


def load_paths(
    con: duckdb.DuckDBPyConnection, dispatch_ids: Sequence[str]
) -> dict[str, list[Event]]:
    """The events of each dispatch, in event_seq order, keyed in ``dispatch_ids`` order."""
    rows = con.execute(
        f"""
        select {", ".join(EVENT_COLUMNS)}
        from marts.{MART}
        where list_contains($ids, dispatch_id)
        order by dispatch_id, event_seq
        """,
        {"ids": list(dispatch_ids)},
    ).fetchall()
    paths: dict[str, list[Event]] = {dispatch: [] for dispatch in dispatch_ids}
    for row in rows:
        paths[row[0]].append(Event(*row))
    return paths


# --------------------------------------------------------------------------- formatting


def _time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def format_path(events: Sequence[Event]) -> str:
    """One message: a header, one line per event in event_seq order (the last is its
    state at the as-of time and why), then its dropped or undelivered reason and what
    to do about it, where it has one."""
    first = events[0]
    lines = [
        f"message {first.dispatch_id}: account {first.account_id}, campaign "
        f"{first.campaign_id}, user {first.user_id or '-'}, cohort date {first.cohort_date}"
        + (f", wamid {first.wamid}" if first.wamid else "")
    ]
    width = max(len(event.event_kind) for event in events)
    seq_width = len(str(events[-1].event_seq))
    for event in events:
        lines.append(
            f"  {event.event_seq:>{seq_width}}  {_time(event.event_at)}  "
            f"{event.event_kind:<{width}}  {event.detail}"
        )
    state = next((event for event in reversed(events) if event.event_kind == "state"), None)
    if state is not None and state.reason:
        lines.append(f"  reason: {state.reason}")
        if state.possible_solution:
            lines.append(f"  possible solution: {state.possible_solution}")
    return "\n".join(lines) + "\n"


def format_trace(
    paths: dict[str, list[Event]],
    *,
    as_of: str | None,
    source: Path | None = None,
    user: str | None = None,
    total: int | None = None,
) -> str:
    """The whole output: where it was read from, then every message's path."""
    where = f" from {source}" if source is not None else ""
    lines = [f"message lineage as of {as_of or 'unknown'}{where}"]
    if user is not None:
        shown = len(paths)
        total = shown if total is None else total
        more = f", the newest {shown} shown (--limit)" if total > shown else ""
        lines.append(f"user {user}: {total} message{'s' if total != 1 else ''}{more}")
    text = "\n".join(lines) + "\n"
    return text + "".join("\n" + format_path(events) for events in paths.values() if events)


# --------------------------------------------------------------------------- command


def trace(
    con: duckdb.DuckDBPyConnection,
    *,
    dispatch: str | None = None,
    user: str | None = None,
    campaign: str | None = None,
    limit: int = DEFAULT_LIMIT,
    source: Path | None = None,
) -> str:
    """The text ``wa-warehouse trace`` prints, from an open publication."""
    check_lineage_mart(con)
    dispatch_ids, total = dispatches_of(
        con, dispatch=dispatch, user=user, campaign=campaign, limit=limit
    )
    return format_trace(
        load_paths(con, dispatch_ids),
        as_of=publication_as_of(con),
        source=source,
        user=user,
        total=total,
    )


def main(args: argparse.Namespace) -> int:
    if args.campaign is not None and args.user is None:
        raise ConfigError("--campaign narrows --user: a dispatch is one message already")
    if args.limit < 1:
        raise ConfigError(f"--limit {args.limit} must be at least 1")
    serving = Settings.from_env().with_overrides(serving_path=args.serving).serving_path
    con = open_serving(serving)
    try:
        text = trace(
            con,
            dispatch=args.dispatch,
            user=args.user,
            campaign=args.campaign,
            limit=args.limit,
            source=serving,
        )
    finally:
        con.close()
    print(text, end="")
    return 0
