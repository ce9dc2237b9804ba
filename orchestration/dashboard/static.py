"""``wa-warehouse dashboard --export out.html``: the dashboard as one self-contained file.

The same sections as the live page, for the scope and range of the flags, with
Bokeh's JavaScript inlined (``bokeh.resources.INLINE``): the file opens from a
mail attachment with no server and no network. The trend chart still switches
grain and metrics (in the browser); the pickers and the users' export need the
live dashboard.
"""

from __future__ import annotations

from pathlib import Path

from bokeh.embed import file_html
from bokeh.resources import INLINE

from orchestration.dashboard.layout import DashboardView
from orchestration.dashboard.queries import Selection, Serving, snapshot
from orchestration.dashboard.server import TITLE, scope_check


def export_html(serving: Serving, selection: Selection, out: Path) -> Path:
    """Write the dashboard of ``selection`` to ``out``; returns the path written."""
    with serving.connect() as con:
        selection = scope_check(con, selection)
        snap = snapshot(con, selection)
    view = DashboardView(snap, title=TITLE, source=str(serving.path), live=False)
    html = file_html(view.layout(), INLINE, f"{TITLE}: {snap.scope.describe()}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    return out
