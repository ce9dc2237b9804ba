"""``wa-warehouse export``: files for re-segmenting, from the published marts.

``wa-warehouse export reason-recipients`` writes the users a dropped or
undelivered reason hit in one campaign over a range of cohort dates, one row
per (user, kind, reason), to CSV or Parquet (chosen by the ``--out`` suffix),
ready to load into a CRM segment. Like ``wa-warehouse report`` it reads the
*serving* copy of the marts (opened read-only), never the working warehouse.

:func:`export_reason_recipients` does the work on an open connection, so the
dashboard's export button and the command write the same file. DuckDB writes
it with one ``copy`` (no row passes through Python) under a temporary name in
the target folder, then renames it over ``--out``: a reader never sees half a
file, and a failed export leaves no file behind. No phone number is exported:
``marts.reason_recipients`` holds none.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from orchestration.config import ConfigError, Settings
from orchestration.report import (
    DateRange,
    Scope,
    cohort_date_bounds,
    open_serving,
    parse_date_range,
    resolve_scope,
)

KINDS = ("dropped", "undelivered")
ALL_REASONS = "all"

#: The exported columns, in file order: one row per (user, kind, reason) in range.
COLUMNS = (
    "user_id", "account_id", "campaign_id", "kind", "reason", "messages",
    "first_cohort_date", "last_cohort_date",
)  # fmt: skip

#: ``copy`` options per ``--out`` suffix (lower-cased).
FORMATS = {
    ".csv": "format csv, header true",
    ".parquet": "format parquet",
}


# --------------------------------------------------------------------------- checks


def output_format(out: Path) -> str:
    """The ``copy`` options for ``out``'s suffix; a ConfigError for any other suffix."""
    options = FORMATS.get(out.suffix.lower())
    if options is None:
        raise ConfigError(
            f"--out {out}: cannot tell the format from {out.suffix or 'a name without suffix'!r}; "
            f"end the file name with {' or '.join(FORMATS)}"
        )
    return options


def _check_out(out: Path) -> None:
    if out.is_dir():
        raise ConfigError(f"--out {out} is a folder: give a file name ending in .csv or .parquet")
    folder = out.parent
    if not folder.is_dir():
        raise ConfigError(f"--out {out}: the folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK):
        raise ConfigError(f"--out {out}: the folder {folder} is not writable")


def _check_recipients_mart(con: duckdb.DuckDBPyConnection) -> None:
    """The published reason_recipients must have its cohort-date grain."""
    columns = {
        row[0]
        for row in con.execute(
            """
            select column_name from information_schema.columns
            where table_catalog = current_database()
                and table_schema = 'marts' and table_name = 'reason_recipients'
            """
        ).fetchall()
    }
    if not columns:
        raise ConfigError(
            "the published marts have no marts.reason_recipients: run `wa-warehouse run` "
            "to publish them"
        )
    if "cohort_date" not in columns:
        raise ConfigError(
            "the published marts.reason_recipients has no cohort_date (a publication older "
            "than the cohort-date grain): run `wa-warehouse run` to publish it again"
        )


def _check_account(con: duckdb.DuckDBPyConnection, scope: Scope, account: str | None) -> None:
    if account is None or account == scope.account_id:
        return
    resolve_scope(con, account=account)  # an unknown account: the error lists known ones
    raise ConfigError(f"campaign {scope.id} belongs to account {scope.account_id}, not {account}")


def resolve_reason(
    con: duckdb.DuckDBPyConnection, campaign: str, reason: str, kind: str | None
) -> str | None:
    """The reason as the marts spell it (matched case-insensitively), or None for ``all``.

    A reason is known when reason_dictionary has it (of ``kind`` when given) or
    when it hit the campaign; an unknown one is a ConfigError listing the valid ones.
    """
    if reason.strip().lower() == ALL_REASONS:
        return None
    known = [
        row[0]
        for row in con.execute(
            """
            select reason from marts.reason_dictionary
            where $kind is null or kind = $kind
            union
            select reason from marts.reason_recipients
            where campaign_id = $campaign and ($kind is null or kind = $kind)
            order by 1
            """,
            {"kind": kind, "campaign": campaign},
        ).fetchall()
    ]
    by_lower = {name.lower(): name for name in known}
    match = by_lower.get(reason.strip().lower())
    if match is not None:
        return match
    of_kind = f"{kind} " if kind else ""
    close = difflib.get_close_matches(reason, known, n=3, cutoff=0.6)
    hint = f"did you mean: {', '.join(close)}? " if close else ""
    valid = ", ".join([ALL_REASONS, *known])
    raise ConfigError(f"unknown {of_kind}reason {reason!r}; {hint}valid {of_kind}reasons: {valid}")


# --------------------------------------------------------------------------- export


def _conditions(
    campaign: str,
    account: str | None,
    reason: str | None,
    kind: str | None,
    date_range: DateRange,
) -> tuple[str, dict[str, Any]]:
    conditions = ["campaign_id = $campaign"]
    params: dict[str, Any] = {"campaign": campaign}
    if account is not None:
        conditions.append("account_id = $account")
        params["account"] = account
    if kind is not None:
        conditions.append("kind = $kind")
        params["kind"] = kind
    if reason is not None:
        conditions.append("reason = $reason")
        params["reason"] = reason
    if date_range.start is not None:
        conditions.append("cohort_date >= $date_from")
        params["date_from"] = date_range.start
    if date_range.end is not None:
        conditions.append("cohort_date <= $date_to")
        params["date_to"] = date_range.end
    return " and ".join(conditions), params


def export_reason_recipients(
    con: duckdb.DuckDBPyConnection,
    campaign: str,
    reason: str,
    kind: str | None,
    date_from: date | None,
    date_to: date | None,
    out: Path,
    *,
    account: str | None = None,
) -> int:
    """Write the users ``reason`` hit in ``campaign`` on cohort dates ``date_from`` to
    ``date_to`` (both inclusive; None: open) to ``out`` (.csv or .parquet); return
    how many distinct users it holds.

    One row per (user, kind, reason): :data:`COLUMNS`, with the user's messages in
    range and their first and last cohort date, sorted by kind, reason and user.
    ``reason`` is a reason name (any case) or ``all``; ``kind`` is ``dropped``,
    ``undelivered`` or None for both. Unknown ids, an empty range, a bad suffix or
    an unusable folder are ConfigErrors, raised before anything is written.
    """
    out = Path(out)
    options = output_format(out)
    _check_out(out)
    if kind is not None and kind not in KINDS:
        raise ConfigError(f"--kind {kind!r} must be one of {', '.join(KINDS)}")
    if date_from is not None and date_to is not None and date_from > date_to:
        raise ConfigError(f"--from {date_from} is after --to {date_to}: the range would be empty")
    _check_recipients_mart(con)
    scope = resolve_scope(con, campaign=campaign)
    _check_account(con, scope, account)
    name = resolve_reason(con, campaign, reason, kind)

    date_range = DateRange(date_from, date_to)
    where, params = _conditions(campaign, scope.account_id, name, kind, date_range)
    query = f"""
        select
            user_id,
            account_id,
            campaign_id,
            kind,
            reason,
            cast(sum(messages) as bigint) as messages,
            min(cohort_date) as first_cohort_date,
            max(cohort_date) as last_cohort_date
        from marts.reason_recipients
        where {where}
        group by user_id, account_id, campaign_id, kind, reason
        order by kind, reason, user_id
    """
    (users,) = con.execute(
        f"select count(distinct user_id) from marts.reason_recipients where {where}", params
    ).fetchone()
    partial = out.with_name(f".{out.name}.{uuid.uuid4().hex}.tmp")
    try:
        con.execute(f"copy ({query}) to $path ({options})", {**params, "path": str(partial)})
        partial.replace(out)
    except (duckdb.Error, OSError) as error:
        raise ConfigError(f"cannot write {out}: {error}") from error
    finally:
        partial.unlink(missing_ok=True)
    return int(users)


# --------------------------------------------------------------------------- command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Every flag of ``wa-warehouse export`` (one subcommand per kind of file)."""
    targets = parser.add_subparsers(dest="export_target", metavar="WHAT", required=True)
    recipients = targets.add_parser(
        "reason-recipients",
        help="the users a dropped or undelivered reason hit, for re-segmenting",
        description="Write the users a reason hit in one campaign over a range of cohort "
        "dates, one row per user, kind and reason (user_id, account_id, campaign_id, kind, "
        "reason, messages, first_cohort_date, last_cohort_date), read from the published "
        "marts. No phone numbers.",
    )
    recipients.add_argument("--campaign", metavar="ID", required=True, help="the campaign")
    recipients.add_argument(
        "--account", metavar="ID", help="the campaign's account (checked, optional)"
    )
    recipients.add_argument(
        "--reason",
        metavar="REASON",
        required=True,
        help="a reason name as in reason_dictionary (any case; quote names with spaces), or `all`",
    )
    recipients.add_argument(
        "--kind", choices=KINDS, help="only dropped or only undelivered messages (default both)"
    )
    recipients.add_argument(
        "--from",
        dest="date_from",
        metavar="DATE",
        required=True,
        help="first cohort date, YYYY-MM-DD",
    )
    recipients.add_argument(
        "--to", dest="date_to", metavar="DATE", required=True, help="last cohort date (inclusive)"
    )
    recipients.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        required=True,
        help="the file to write: .csv (with a header) or .parquet; replaced if it exists",
    )
    recipients.add_argument(
        "--serving",
        type=Path,
        metavar="FILE",
        help="published marts file, opened read-only (env WA_SERVING_PATH)",
    )


def _reason_recipients(args: argparse.Namespace) -> int:
    date_range = parse_date_range(args.date_from, args.date_to)
    output_format(args.out)  # a bad suffix fails before the serving file is opened
    serving = Settings.from_env().with_overrides(serving_path=args.serving).serving_path
    con = open_serving(serving)
    try:
        users = export_reason_recipients(
            con,
            args.campaign,
            args.reason,
            args.kind,
            date_range.start,
            date_range.end,
            args.out,
            account=args.account,
        )
        bounds = cohort_date_bounds(con, resolve_scope(con, campaign=args.campaign), DateRange())
        reason = resolve_reason(con, args.campaign, args.reason, args.kind)
    finally:
        con.close()
    what = "any reason" if reason is None else repr(reason)
    if args.kind:
        what += f" ({args.kind})"
    span = f"cohort dates {date_range.start} to {date_range.end}"
    print(
        f"exported {users:,} users hit by {what} in campaign {args.campaign}, {span}, "
        f"to {args.out}",
        file=sys.stderr,
    )
    if reason is None and users:
        print("a user hit by several reasons has a row for each", file=sys.stderr)
    if users == 0:
        first, last = bounds
        dates = f"{first} to {last}" if first else "none"
        print(f"the file has no rows (the campaign's cohort dates: {dates})", file=sys.stderr)
    return 0


EXPORTS = {"reason-recipients": _reason_recipients}


def main(args: argparse.Namespace) -> int:
    """Run ``wa-warehouse export``: 0 when the file was written; ConfigErrors exit 2."""
    return EXPORTS[args.export_target](args)
