"""``wa-warehouse``: the command line of the warehouse (see README)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from orchestration.config import ENV_LOGS_DIR, ConfigError, Settings, format_as_of, parse_as_of


def _add_location_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--extracts", type=Path, help="extracts root (env WA_EXTRACTS_DIR)")
    parser.add_argument("--warehouse", type=Path, help="warehouse file (env WA_WAREHOUSE_PATH)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wa-warehouse", description="WhatsApp campaign analytics warehouse."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    gen = commands.add_parser("generate", help="write a realistic sample of extracts")
    gen.add_argument("--out", type=Path, default=None, help="extracts root to write")
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--accounts", type=int, default=12)
    gen.add_argument("--campaigns", type=int, default=30)
    gen.add_argument("--days", type=int, default=45)
    gen.add_argument("--recipients-per-send", type=int, default=150)
    gen.add_argument("--end-date", type=date.fromisoformat, default=None, help="YYYY-MM-DD")
    gen.add_argument("--format", choices=("csv", "csv.gz", "parquet"), default="csv")

    run = commands.add_parser("run", help="load what is new, build the marts")
    _add_location_flags(run)
    run.add_argument("--as-of", dest="as_of", help="ISO 8601 timestamp (env WA_AS_OF)")
    run.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="show dbt's whole log on the terminal (it is always in the run log, WA_LOGS_DIR)",
    )
    run.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild every model from the raw tables (and run the dbt unit tests)",
    )

    # removed in 0.2: kept so that old scripts get a message, not a usage error
    backfill = commands.add_parser("backfill", help="removed: see `wa-warehouse run`")
    backfill.add_argument("ignored", nargs=argparse.REMAINDER)

    dev = commands.add_parser(
        "dev",
        help="the Dagster UI on 127.0.0.1, on the instance `wa-warehouse run` records its runs "
        "in (DAGSTER_HOME, by default dagster/ beside the warehouse)",
    )
    dev.add_argument("--port", type=int, default=3000)

    commands.add_parser(
        "prepare",
        help="parse the dbt project once (the manifest Dagster reads) and, with DAGSTER_HOME "
        "set, write the instance settings there",
    )

    from orchestration import bench as bench_command

    bench = commands.add_parser(
        "bench", help="benchmark the pipeline against a single-pass DuckDB query"
    )
    bench_command.add_arguments(bench)

    from orchestration import dashboard as dashboard_command

    dashboard = commands.add_parser(
        "dashboard", help="campaign analytics in the browser (127.0.0.1), from the published marts"
    )
    dashboard_command.add_arguments(dashboard)

    from orchestration import export as export_command

    export = commands.add_parser(
        "export", help="files for re-segmenting from the published marts (CSV or Parquet)"
    )
    export_command.add_arguments(export)

    report = commands.add_parser(
        "report", help="campaign analytics in the terminal, from the published marts"
    )
    scope = report.add_mutually_exclusive_group()
    scope.add_argument("--campaign", metavar="ID", help="one campaign")
    scope.add_argument("--account", metavar="ID", help="every campaign of one account")
    report.add_argument(
        "--from", dest="date_from", metavar="DATE", help="first cohort date, YYYY-MM-DD"
    )
    report.add_argument("--to", dest="date_to", metavar="DATE", help="last cohort date (inclusive)")
    report.add_argument(
        "--serving",
        type=Path,
        metavar="FILE",
        help="published marts file, opened read-only (env WA_SERVING_PATH)",
    )
    report.add_argument(
        "--top", type=int, default=10, metavar="N", help="links and response options shown"
    )

    from orchestration import trace as trace_command

    trace = commands.add_parser(
        "trace",
        help="one message's path (dispatch, statuses, replies, clicks, conversion, "
        "unsubscribe, state and reason), from the published marts",
    )
    trace_command.add_arguments(trace)
    return parser


def _generate(args: argparse.Namespace) -> int:
    from orchestration.generator import GeneratorConfig, generate

    try:
        result = generate(
            GeneratorConfig(
                out=args.out or Settings.from_env().extracts_dir,
                seed=args.seed,
                accounts=args.accounts,
                campaigns=args.campaigns,
                days=args.days,
                recipients_per_send=args.recipients_per_send,
                end_date=args.end_date,
                format=args.format,
            )
        )
    except (FileExistsError, ValueError) as error:  # an occupied folder, a bad parameter
        raise ConfigError(str(error)) from error
    total_rows = sum(result.rows_written.values())
    print(
        f"wrote {total_rows:,} rows ({result.bytes_written / 1e6:,.1f} MB) to {result.out} "
        f"in {result.seconds:.1f}s; as-of {format_as_of(result.as_of)}; "
        f"ground truth in {result.truth_path}"
    )
    return 0


def _run_settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env().with_overrides(
        extracts_dir=args.extracts,
        warehouse_path=args.warehouse,
        as_of=parse_as_of(args.as_of) if args.as_of else None,
    )


def _run(args: argparse.Namespace) -> int:
    """Exit codes: 0 published (or nothing new to publish), 1 a step failed or a check
    of severity ERROR blocked the publication, 2 a configuration error."""
    from orchestration.pipeline import check_paths, run_pipeline
    from orchestration.run_output import log_file, run_output
    from orchestration.summary import print_summary

    settings = _run_settings(args)
    check_paths(settings)  # before the log folder: the warehouse's folder holds it
    log_path = log_file(settings.logs_dir)
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(
            f"cannot create the run log folder {log_path.parent}: {error.strerror}; "
            f"set {ENV_LOGS_DIR} to a writable folder"
        ) from error
    with run_output(log_path, verbose=args.verbose) as output:
        output.note(f"wa-warehouse {' '.join(sys.argv[1:])}")
        print(
            f"wa-warehouse run: extracts {settings.extracts_dir}, "
            f"warehouse {settings.warehouse_path}, log {log_path}",
            file=sys.stderr,
        )
        result = run_pipeline(settings, full_refresh=args.full_refresh)
    if output.dbt.total:
        print(output.summary(), file=sys.stderr)
    if not result.success:
        print(f"error: the pipeline failed after {result.seconds:.1f}s", file=sys.stderr)
        print(result.failure, file=sys.stderr)
        _print_checks(result.errors, result.warnings)
        return 1
    if not result.built and not result.errors:
        print(
            f"nothing loaded since the last build as of {format_as_of(result.as_of)}: "
            "the marts and their publication are up to date",
            file=sys.stderr,
        )
    print_summary(settings.warehouse_path, result)
    _print_checks(result.errors, result.warnings)
    if result.errors:
        print(
            f"error: {len(result.errors)} check(s) of severity ERROR failed, so nothing was "
            'published: the previous publication stays in place (README, "Checks")',
            file=sys.stderr,
        )
        return 1
    return 0


def _print_checks(errors: Sequence[str], warnings: Sequence[str]) -> None:
    for failed in errors:
        print(f"CHECK FAILED (error)  {failed}", file=sys.stderr)
    for failed in warnings:
        print(f"CHECK WARNING  {failed}", file=sys.stderr)


def _backfill(_: argparse.Namespace) -> int:
    raise ConfigError(
        "`wa-warehouse backfill` was removed: every `wa-warehouse run` rebuilds the period "
        "marts from the whole history; `wa-warehouse run --full-refresh` also rebuilds the "
        "incremental models from the raw tables"
    )


def _prepare(_: argparse.Namespace) -> int:
    import os

    from orchestration.config import ensure_dagster_home
    from orchestration.defs.dbt_project import prepare_manifest

    manifest = prepare_manifest(force=True)
    print(f"dbt manifest ready: {manifest}")
    if home := os.environ.get("DAGSTER_HOME"):
        print(f"Dagster instance settings: {ensure_dagster_home(Path(home))}")
    return 0


def _dev(args: argparse.Namespace) -> int:
    """Replace this process with ``dagster dev`` on the CLI runs' instance."""
    import os

    from orchestration.config import ENV_DAGSTER_HOME, ensure_dagster_home
    from orchestration.defs.dbt_project import prepare_manifest

    home = Settings.from_env().dagster_home.resolve()
    ensure_dagster_home(home)
    prepare_manifest()
    os.environ[ENV_DAGSTER_HOME] = str(home)
    print(f"Dagster UI on http://127.0.0.1:{args.port}, instance {home}", file=sys.stderr)
    dagster = Path(sys.executable).parent / "dagster"
    os.execv(dagster, [str(dagster), "dev", "-h", "127.0.0.1", "-p", str(args.port)])
    return 0  # not reached


def _bench(args: argparse.Namespace) -> int:
    from orchestration import bench

    return bench.main(args)


def _dashboard(args: argparse.Namespace) -> int:
    from orchestration import dashboard

    return dashboard.main(args)


def _export(args: argparse.Namespace) -> int:
    from orchestration import export

    return export.main(args)


def _report(args: argparse.Namespace) -> int:
    from orchestration.report import build_report, open_serving, parse_date_range, resolve_scope

    date_range = parse_date_range(args.date_from, args.date_to)
    if args.top < 1:
        raise ConfigError(f"--top {args.top} must be at least 1")
    serving = Settings.from_env().with_overrides(serving_path=args.serving).serving_path
    con = open_serving(serving)
    try:
        scope = resolve_scope(con, campaign=args.campaign, account=args.account)
        text = build_report(con, scope, date_range, top=args.top, source=serving)
    finally:
        con.close()
    print(text, end="")
    return 0


def _trace(args: argparse.Namespace) -> int:
    from orchestration import trace

    return trace.main(args)


COMMANDS = {
    "generate": _generate,
    "run": _run,
    "backfill": _backfill,
    "prepare": _prepare,
    "dev": _dev,
    "bench": _bench,
    "report": _report,
    "export": _export,
    "dashboard": _dashboard,
    "trace": _trace,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and args.command != "backfill":  # the removed command takes anything
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return COMMANDS[args.command](args)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
