"""``wa-warehouse``: the command line of the warehouse (see README)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from orchestration.config import ConfigError, Settings, format_as_of, parse_as_of, parse_date


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
        "--full-refresh",
        action="store_true",
        help="rebuild every model from the raw tables (and run the dbt unit tests)",
    )

    backfill = commands.add_parser(
        "backfill",
        help="rebuild a period mart for a date range in one run (no load, no publication)",
    )
    backfill.add_argument("period", choices=("daily", "weekly", "monthly"))
    backfill.add_argument(
        "--from", dest="date_from", required=True, metavar="DATE", help="first day, YYYY-MM-DD"
    )
    backfill.add_argument(
        "--to", dest="date_to", required=True, metavar="DATE", help="last day (inclusive)"
    )
    _add_location_flags(backfill)
    backfill.add_argument("--as-of", dest="as_of", help="ISO 8601 timestamp (env WA_AS_OF)")
    backfill.add_argument("--full-refresh", action="store_true", help="pass dbt --full-refresh")

    commands.add_parser(
        "prepare",
        help="parse the dbt project once (the manifest Dagster reads) and, with DAGSTER_HOME "
        "set, write the instance settings there",
    )

    bench = commands.add_parser(
        "bench", help="benchmark generation, loading and, optionally, the pipeline"
    )
    bench.add_argument("--dispatches", type=int, default=1_000_000)
    bench.add_argument("--workdir", type=Path, default=Path("data/bench"))
    bench.add_argument(
        "--pipeline", action="store_true", help="also time a whole `wa-warehouse run`"
    )
    bench.add_argument(
        "--incremental",
        action="store_true",
        help="also time one more day's run on 60 days of history against a full rebuild",
    )

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
    from orchestration.pipeline import run_pipeline
    from orchestration.summary import print_summary

    settings = _run_settings(args)
    print(
        f"wa-warehouse run: extracts {settings.extracts_dir}, warehouse {settings.warehouse_path}",
        file=sys.stderr,
    )
    result = run_pipeline(settings, full_refresh=args.full_refresh)
    if not result.success:
        print(f"error: the pipeline failed after {result.seconds:.1f}s", file=sys.stderr)
        print(result.failure, file=sys.stderr)
        return 1
    print_summary(settings.warehouse_path, result)
    for failed in result.failed_checks:
        print(f"CHECK FAILED  {failed}", file=sys.stderr)
    return 0


def _backfill(args: argparse.Namespace) -> int:
    from orchestration.pipeline import run_backfill

    first, last = (
        parse_date(text, flag)
        for text, flag in ((args.date_from, "--from"), (args.date_to, "--to"))
    )
    settings = _run_settings(args)
    result = run_backfill(settings, args.period, first, last, full_refresh=args.full_refresh)
    if not result.success:
        print(f"error: the backfill failed after {result.seconds:.1f}s", file=sys.stderr)
        print(result.failure, file=sys.stderr)
        return 1
    print(
        f"campaign_performance_{args.period}: periods holding {first} to {last} rebuilt as of "
        f"{format_as_of(result.as_of)} in {result.seconds:.1f}s; `wa-warehouse run` publishes them"
    )
    for failed in result.failed_checks:
        print(f"CHECK FAILED  {failed}", file=sys.stderr)
    return 0


def _prepare(_: argparse.Namespace) -> int:
    import os

    from orchestration.config import ensure_dagster_home
    from orchestration.defs.dbt_project import prepare_manifest

    manifest = prepare_manifest(force=True)
    print(f"dbt manifest ready: {manifest}")
    if home := os.environ.get("DAGSTER_HOME"):
        print(f"Dagster instance settings: {ensure_dagster_home(Path(home))}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from orchestration.bench import run_bench

    if args.dispatches < 1:
        raise ConfigError(f"--dispatches {args.dispatches} must be at least 1")
    figures = run_bench(
        dispatches=args.dispatches,
        workdir=args.workdir,
        pipeline=args.pipeline,
        incremental=args.incremental,
    )
    # a benchmark of a wrong result is worthless: fail when the daily run's marts differ
    return 0 if figures.get("incremental_marts_identical", True) else 1


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


COMMANDS = {
    "generate": _generate,
    "run": _run,
    "backfill": _backfill,
    "prepare": _prepare,
    "bench": _bench,
    "report": _report,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
