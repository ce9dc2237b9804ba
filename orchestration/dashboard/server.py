"""The live dashboard: a Bokeh server on 127.0.0.1 with pickers, and the users' export.

Each browser session gets its own document (:func:`make_document`). A change of
a picker reads a new :class:`~.queries.Snapshot` through a short-lived read-only
connection and updates the sections in place, so the next change after a
publication shows the new publication (*Reload* re-reads the pickers' options
too). Bokeh's JavaScript is served by this server (``/static``): the page loads
nothing from elsewhere.

``GET /export/reason-recipients?campaign=&kind=&reason=&from=&to=`` downloads the
users a dropped or undelivered reason hit (the *Export users* links of the
reasons section), through ``orchestration.export.export_reason_recipients``.
"""

from __future__ import annotations

import importlib
import logging
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bokeh.application import Application
from bokeh.application.handlers.function import FunctionHandler
from bokeh.document import Document
from bokeh.layouts import column, row
from bokeh.models import Button, DateRangePicker, InlineStyleSheet, Select
from bokeh.server.server import Server
from tornado.web import RequestHandler

from orchestration.config import ConfigError
from orchestration.dashboard.layout import DashboardView, day, styled_div
from orchestration.dashboard.queries import (
    EXPORT_MODULE,
    KINDS,
    Options,
    Selection,
    Serving,
    Trace,
    options,
    snapshot,
    trace,
)
from orchestration.report import resolve_scope

ALL = ""  # the pickers' "every account" / "every campaign" value
TITLE = "Campaign analytics"
EXPORT_ROUTE = r"/export/reason-recipients"


class Controls:
    """The pickers: account, campaign, cohort-date range, presets, reload, status line."""

    def __init__(self, opts: Options, selection: Selection, style: InlineStyleSheet) -> None:
        self.account = Select(title="Account", name="account", width=180)
        self.campaign = Select(title="Campaign", name="campaign", width=300)
        self.dates = DateRangePicker(title="Cohort dates", name="date_range", width=260)
        self.presets = {
            "all": Button(label="All dates", name="preset_all", width=90),
            "7": Button(label="Last 7 days", name="preset_7", width=100),
            "30": Button(label="Last 30 days", name="preset_30", width=110),
        }
        self.reload = Button(label="Reload", name="reload", width=80, button_type="light")
        self.status = styled_div(style, "status")
        self.set_options(opts, selection)

    def set_options(self, opts: Options, selection: Selection) -> None:
        self.opts = opts
        self.account.options = [(ALL, "all accounts"), *((a, a) for a in opts.accounts)]
        self.account.value = selection.account or ALL
        self.set_campaigns(selection.account, selection.campaign)
        self.dates.min_date = opts.first
        self.dates.max_date = opts.last
        start = selection.date_from or opts.first
        end = selection.date_to or opts.last
        self.dates.value = (start, end) if start and end else None

    def set_campaigns(self, account: str | None, campaign: str | None) -> None:
        accounts = [account] if account else self.opts.accounts
        choices = [c for a in accounts for c in self.opts.campaigns.get(a, [])]
        self.campaign.options = [(ALL, "all campaigns"), *choices]
        self.campaign.value = campaign or ALL

    def selection(self) -> Selection:
        start, end = self.dates.value or (None, None)
        return Selection(
            account=self.account.value or None,
            campaign=self.campaign.value or None,
            date_from=day(start),
            date_to=day(end),
        )

    def preset(self, days: int | None) -> None:
        last, first = self.opts.last, self.opts.first
        if last is None or first is None:
            return
        start = first if days is None else max(first, last - timedelta(days=days - 1))
        self.dates.value = (start, last)

    def layout(self) -> Any:
        buttons = row(*self.presets.values(), self.reload, styles={"align-items": "end"})
        return column(
            row(self.account, self.campaign, self.dates, buttons),
            self.status,
            sizing_mode="stretch_width",
        )


class Session:
    """One browser session: its view, its pickers and the callbacks between them."""

    def __init__(self, doc: Document, serving: Serving, initial: Selection) -> None:
        self.serving = serving
        self.muted = False
        with serving.connect() as con:
            opts = options(con)
            snap = snapshot(con, initial)
        self.view = DashboardView(snap, title=TITLE, source=str(serving.path), live=True)
        self.controls = Controls(opts, initial, self.view.style)
        c = self.controls
        c.account.on_change("value", self._account_changed)
        c.campaign.on_change("value", self._changed)
        c.dates.on_change("value", self._changed)
        c.presets["all"].on_click(lambda: self.controls.preset(None))
        c.presets["7"].on_click(lambda: self.controls.preset(7))
        c.presets["30"].on_click(lambda: self.controls.preset(30))
        c.reload.on_click(self.reload)
        if self.view.trace_input is not None:
            self.view.trace_input.on_change("value", self._trace)
        doc.title = TITLE
        doc.add_root(self.view.layout(c.layout()))

    def _account_changed(self, _attr: str, _old: Any, new: Any) -> None:
        self.muted = True
        try:
            self.controls.set_campaigns(new or None, None)
        finally:
            self.muted = False
        self.refresh()

    def _changed(self, _attr: str, _old: Any, _new: Any) -> None:
        if not self.muted:
            self.refresh()

    def reload(self) -> None:
        """Re-read the publication: the pickers' options, then the numbers."""
        selection = self.controls.selection()
        try:
            with self.serving.connect() as con:
                opts = options(con)
        except ConfigError as error:
            self.controls.status.text = f'<p class="note">error: {error}</p>'
            return
        known = selection.campaign is None or any(
            selection.campaign == c for cs in opts.campaigns.values() for c, _ in cs
        )
        if not known or (selection.account and selection.account not in opts.accounts):
            selection = Selection(date_from=selection.date_from, date_to=selection.date_to)
        self.muted = True
        try:
            self.controls.set_options(opts, selection)
        finally:
            self.muted = False
        self.refresh()

    def _trace(self, _attr: str, _old: Any, new: Any) -> None:
        """Look the typed dispatch or user id up in message_lineage (read-only)."""
        value = str(new or "").strip()
        if not value:
            self.view.show_trace(None)
            return
        try:
            with self.serving.connect() as con:
                result = trace(con, value)
        except ConfigError as error:  # the publication is gone or unreadable
            result = Trace(value, error=str(error))
        self.view.show_trace(result)

    def refresh(self) -> None:
        started = time.perf_counter()
        selection = self.controls.selection()
        try:
            with self.serving.connect() as con:
                snap = snapshot(con, selection)
        except ConfigError as error:
            self.controls.status.text = f'<p class="note">error: {error}</p>'
            return
        self.view.update(snap)
        elapsed = time.perf_counter() - started
        self.controls.status.text = (
            f'<p class="note" data-elapsed="{elapsed:.3f}">updated in {elapsed:.2f} s</p>'
        )


# --------------------------------------------------------------------------- export


def export_filename(
    campaign: str, kind: str, reason: str, start: date | None, end: date | None
) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", reason).strip("-").lower() or "reason"
    dates = "-".join(d.isoformat() for d in (start, end) if d)
    return "_".join(filter(None, ["recipients", campaign, kind, slug, dates])) + ".csv"


class ExportHandler(RequestHandler):
    """The users a reason hit in one campaign and range, as a file to download."""

    def initialize(self, serving: Serving) -> None:
        self.serving = serving

    def _fail(self, status: int, message: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(message + "\n")

    def get(self) -> None:
        campaign = self.get_query_argument("campaign", "")
        kind = self.get_query_argument("kind", "")
        reason = self.get_query_argument("reason", "")
        if not campaign or kind not in KINDS or not reason:
            return self._fail(400, "campaign, kind (dropped|undelivered) and reason are required")
        try:
            start = day(self.get_query_argument("from", "") or None)
            end = day(self.get_query_argument("to", "") or None)
        except ValueError:
            return self._fail(400, "from and to are dates (YYYY-MM-DD)")
        try:
            export = importlib.import_module(EXPORT_MODULE).export_reason_recipients
        except (ImportError, AttributeError):
            return self._fail(501, "exporting recipients is not available in this version")
        name = export_filename(campaign, kind, reason, start, end)
        with tempfile.TemporaryDirectory(prefix="wa-export-") as tmp:
            out = Path(tmp) / name
            try:
                with self.serving.connect() as con:
                    resolve_scope(con, campaign=campaign)
                    rows = export(con, campaign, reason, kind, start, end, out)
            except ConfigError as error:
                return self._fail(404, str(error))
            self.set_header("Content-Type", "text/csv; charset=utf-8")
            self.set_header("Content-Disposition", f'attachment; filename="{name}"')
            self.set_header("X-Exported-Rows", str(rows))
            self.finish(out.read_bytes())
        return None


# --------------------------------------------------------------------------- server


def build_server(serving: Serving, port: int, initial: Selection) -> Server:
    """A Bokeh server bound to 127.0.0.1 only; not started."""

    def make_document(doc: Document) -> None:
        Session(doc, serving, initial)

    handler: Callable[[Document], None] = make_document
    origins = [f"127.0.0.1:{port}", f"localhost:{port}"]
    try:
        return Server(
            {"/": Application(FunctionHandler(handler))},
            address="127.0.0.1",
            port=port,
            allow_websocket_origin=origins,
            extra_patterns=[(EXPORT_ROUTE, ExportHandler, {"serving": serving})],
        )
    except OSError as error:
        raise ConfigError(f"cannot listen on 127.0.0.1:{port} ({error}): pick --port") from error


def serve(serving: Serving, port: int, initial: Selection) -> None:
    """Serve until interrupted."""
    for name in ("bokeh", "tornado"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with serving.connect() as con:  # fail now, readably, rather than on the first page
        initial = scope_check(con, initial)
    server = build_server(serving, port, initial)
    server.start()
    print(
        f"dashboard on http://127.0.0.1:{port}/ (published marts {serving.path}); Ctrl-C stops it",
        flush=True,
    )
    server.io_loop.start()


def scope_check(con: Any, selection: Selection) -> Selection:
    """--account / --campaign exist and agree; the selection with the campaign's account."""
    if selection.campaign:
        scope = resolve_scope(con, campaign=selection.campaign)
        if selection.account and scope.account_id != selection.account:
            raise ConfigError(
                f"campaign {selection.campaign} belongs to account {scope.account_id}, "
                f"not {selection.account}"
            )
        return replace(selection, account=scope.account_id)
    if selection.account:
        resolve_scope(con, account=selection.account)
    return selection
