"""``wa-warehouse dashboard`` / ``make dashboard``: campaign analytics in the browser.

A Bokeh server on 127.0.0.1 (``--port``, default :data:`DEFAULT_PORT`) reading the
*published* marts read-only (``--serving``, env ``WA_SERVING_PATH``): account and
campaign pickers, a cohort-date range, metric cards, a trend chart, dropped and
undelivered reasons, latency, link, response and external-platform activity,
attribution sensitivity, cost and ROAS, Marketing Messages API vs Cloud API, holdout
uplift, benchmarks, and a message trace (one dispatch's or user's lineage, looked up by id).
``--export out.html`` writes the same dashboard as one self-contained HTML file
for ``--account``/``--campaign``/``--from``/``--to`` instead of serving it.

Modules: :mod:`.queries` (what is shown, through the report's query logic),
:mod:`.sections` (HTML fragments), :mod:`.layout` (the Bokeh document),
:mod:`.server` (the live server) and :mod:`.static` (the export). Only this module
is imported when the CLI builds its parser: Bokeh loads when the command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_PORT = 8050


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Every flag of ``wa-warehouse dashboard``."""
    parser.add_argument("--serving", type=Path, help="published marts file (env WA_SERVING_PATH)")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        metavar="N",
        help="port on 127.0.0.1 (default %(default)s)",
    )
    parser.add_argument(
        "--export",
        type=Path,
        metavar="FILE",
        help="write a self-contained HTML file of the dashboard instead of serving it",
    )
    parser.add_argument("--account", metavar="ID", help="account to show (default: all)")
    parser.add_argument("--campaign", metavar="ID", help="campaign to show (default: all)")
    parser.add_argument(
        "--from", dest="date_from", metavar="DATE", help="first cohort date (inclusive)"
    )
    parser.add_argument("--to", dest="date_to", metavar="DATE", help="last cohort date (inclusive)")


def main(args: argparse.Namespace) -> int:
    """Serve the dashboard (until Ctrl-C) or write the export; ConfigError on bad input."""
    from orchestration.config import ConfigError, Settings
    from orchestration.dashboard.queries import Selection, Serving
    from orchestration.report import parse_date_range

    date_range = parse_date_range(args.date_from, args.date_to)
    if not 0 < args.port < 65536:
        raise ConfigError(f"--port {args.port} is not a port number (1-65535)")
    path = Settings.from_env().with_overrides(serving_path=args.serving).serving_path
    serving = Serving(path)
    selection = Selection(args.account, args.campaign, date_range.start, date_range.end)
    if args.export:
        from orchestration.dashboard.static import export_html

        out = export_html(serving, selection, args.export)
        print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, self-contained)")
        return 0
    from orchestration.dashboard.server import serve

    serve(serving, args.port, selection)
    return 0
