"""Charts are markup in the page: whatever users named things, it arrives escaped."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from aicc.core.allocations import FlavorQuota
from aicc.portal import charts
from aicc.services import allocations
from aicc.services.principal import SYSTEM
from aicc.store.db import Database
from aicc.store.models import utcnow
from tests.world import World

Portal = Callable[[str | None], TestClient]
EVIL = '<script>alert("x")</script>'


def test_free_text_names_are_escaped_in_charts_and_tables(portal: Portal, pworld: World, db: Database) -> None:
    now = utcnow()
    with db.write() as s:
        allocations.create(s, SYSTEM, project_id=pworld.a.project_id, name=EVIL, budget_su=10,
                           starts_at=now - dt.timedelta(days=2), ends_at=now + dt.timedelta(days=2),
                           quotas={"cpu": FlavorQuota(1, 0)})
    page = portal("a-member").get("/").text
    assert EVIL not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page or "&lt;script&gt;alert(&quot;x&quot;)" in page


def test_line_chart_draws_each_series_and_names_itself() -> None:
    t = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    svg = str(charts.line_chart({"a": [(t, 1.0), (t + dt.timedelta(days=1), 3.0)], "b<": [(t, 2.0)]},
                                title="T&", description="D", fmt_x=lambda d: d.strftime("%d"), fmt_y=str,
                                chart_id="c"))
    assert svg.count("<polyline") == 2 and 'role="img"' in svg and 'aria-labelledby="c-title c-desc"' in svg
    assert "T&amp;" in svg and "b&lt;" in svg
    assert charts.line_chart({}, title="", description="", fmt_x=str, fmt_y=str) == ""


def test_bar_chart_scales_to_the_largest_value() -> None:
    svg = str(charts.bar_chart([("x", 10.0), ("y", 5.0)], title="t", description="d", fmt=str))
    widths = [float(w) for w in re.findall(r'<rect x="170" y="[\d.]+" width="([\d.]+)"', svg)]
    assert len(widths) == 2 and abs(widths[0] - 2 * widths[1]) < 0.2
