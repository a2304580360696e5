"""The TDA's dashboard and its lists, over the register's real estate API and the demo estate."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from portal_support import SignIn, Stack

from estate_portal.personas import BY_KEY
from estate_portal.views import dashboard
from estate_portal.web import pounds
from estate_runtime.auth import AuthSettings, mint_token


async def _api(stack: Stack, auth: AuthSettings, persona: str, path: str, **params: Any) -> Any:
    """What the register's API answers the same person, asked directly."""
    who = BY_KEY[persona]
    token = mint_token(auth, subject=f"demo-{who.key}", roles=who.roles, email=who.email, name=who.name)
    answer = await stack.clients["register"].get(
        path, params=params, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


# --- reading a page as a person (and a screen reader) does ---------------------------------------------


@dataclass
class Table:
    caption: str = ""
    head: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    links: list[str] = field(default_factory=list)


@dataclass
class Chart:
    attributes: dict[str, str]
    ids: dict[str, str] = field(default_factory=dict)
    values: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    table: Table | None = None
    """The first table after the chart."""


class Page(HTMLParser):
    """The tables, charts and links of a page, each chart with the table that follows it."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: list[Table] = []
        self.charts: list[Chart] = []
        self.links: list[str] = []
        self._table: Table | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_head = False
        self._chart: Chart | None = None
        self._svg_text: tuple[str, list[str]] | None = None
        self._caption: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
            if self._table is not None:
                self._table.links.append(a["href"])
        if tag == "svg" and a.get("role") == "img":
            self._chart = Chart(a)
            self.charts.append(self._chart)
        elif self._chart is not None and tag in ("title", "desc"):
            self._chart.ids[tag] = a.get("id", "")
            self._svg_text = (tag, [])
        elif self._chart is not None and tag == "text":
            self._svg_text = (a.get("class", ""), [])
        elif tag == "table":
            self._table = Table()
            self.tables.append(self._table)
            for chart in self.charts:
                if chart.table is None:
                    chart.table = self._table
        elif tag == "caption":
            self._caption = []
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr":
            self._row = []
        elif tag in ("th", "td") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._chart = None
        elif tag in ("title", "desc", "text") and self._chart is not None and self._svg_text is not None:
            kind, parts = self._svg_text
            text = " ".join("".join(parts).split())
            if kind in ("title", "desc"):
                self._chart.ids[kind + "_text"] = text
            elif "__value" in kind:
                self._chart.values.append(text)
            elif "__axis" in kind and "line" not in kind:
                self._chart.labels.append(text)
            self._svg_text = None
        elif tag == "caption" and self._caption is not None and self._table is not None:
            self._table.caption = " ".join("".join(self._caption).split())
            self._caption = None
        elif tag == "thead":
            self._in_head = False
        elif tag in ("th", "td") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            if self._in_head:
                self._table.head = self._row
            else:
                self._table.rows.append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._svg_text is not None:
            self._svg_text[1].append(data)
        if self._caption is not None:
            self._caption.append(data)
        elif self._cell is not None:
            self._cell.append(data)

    def table(self, caption: str) -> Table:
        found = [t for t in self.tables if t.caption.startswith(caption)]
        assert found, f"no table captioned {caption!r}: {[t.caption for t in self.tables]}"
        return found[0]


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _month(key: str) -> str:
    return f"{date.fromisoformat(key + '-01'):%B %Y}"


# --- the dashboard ---------------------------------------------------------------------------------------


async def test_the_tda_chair_sees_the_demo_estates_real_figures(
    portal: httpx.AsyncClient, sign_in: SignIn, stack: Stack, portal_auth: AuthSettings
) -> None:
    await sign_in(portal, "tda-chair")
    answer = await portal.get("/dashboard")
    assert answer.status_code == 200, answer.text
    summary = await _api(stack, portal_auth, "tda-chair", "/api/v1/estate/summary")
    text = _text(answer.text)
    page = Page(answer.text)
    totals = summary["totals"]
    assert totals["systems"] > 0 and totals["contracts"] > 0  # the demo estate, not an empty register
    assert f"{totals['systems']} systems in the register" in text
    assert f"{totals['live_systems']} live systems" in text
    assert f"{totals['contracts']} contracts" in text
    assert f"{pounds(totals['annual_value'])} a year on active contracts" in text
    assert f"{summary['requests_pending_count']} requests waiting for the TDA" in text
    risks = summary["risks"]
    assert f"{sum(r['count'] for r in risks)} risks to look at" in text
    assert f"{totals['act_within_90_days']} renewals to act on within 90 days" in text

    pipeline = page.table("Contracts to act on by month")
    assert pipeline.rows == [
        [_month(m["month"]), str(m["contracts"]), pounds(m["annual_value"])] for m in summary["pipeline"]
    ]
    overdue = summary["pipeline_overdue"]["contracts"]
    if overdue:
        assert f"{overdue} contract{'s are' if overdue != 1 else ' is'} past the date to act by" in text

    for key, caption in (
        ("by_supplier", "Annual value of active contracts by supplier"),
        ("by_service_area", "Annual value of active contracts by service area"),
        ("by_council", "Annual value of active contracts by council"),
    ):
        assert page.table(caption).rows == [
            [g["label"], str(g["contracts"]), pounds(g["annual_value"])] for g in summary["spend"][key]
        ]
    assert page.table("Systems by lifecycle stage").rows == [
        [s["label"], str(s["count"])] for s in summary["lifecycle"]
    ]
    assert page.table("Systems in use or planned, by disposition").rows == [
        [s["label"], str(s["count"])] for s in summary["disposition"]
    ]

    clusters = summary["duplication_clusters"]
    assert clusters["count"] > 0
    duplication = page.table(f"{clusters['count']} capabilities are provided by more than one live system")
    assert [row[0] for row in duplication.rows] == [c["capability"] for c in clusters["top"]]
    for cluster in clusters["top"]:
        for system in cluster["systems"]:
            assert f"/systems/{system['id']}" in duplication.links

    risk_table = page.table(f"{sum(r['count'] for r in risks)} risks found")
    assert risk_table.rows == [[r["label"], str(r["count"])] for r in risks]
    assert risk_table.links == [f"/dashboard/lists/{r['list']}" for r in risks]


async def test_every_chart_is_a_named_image_followed_by_a_table_of_the_same_figures(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await sign_in(portal, "tda-chair")
    page = Page((await portal.get("/dashboard")).text)
    assert len(page.charts) == 6  # pipeline, spend three ways, lifecycle, disposition
    ids = set()
    for chart in page.charts:
        assert chart.attributes["role"] == "img"
        assert chart.attributes["aria-labelledby"] == f"{chart.ids['title']} {chart.ids['desc']}"
        ids.update((chart.ids["title"], chart.ids["desc"]))
        assert chart.ids["title_text"] and chart.ids["desc_text"].endswith(
            "The figures are in the table below."
        )
        assert chart.table is not None, chart.ids
        figures = [row[-1] for row in chart.table.rows]
        if "columns" in chart.attributes["class"]:  # the pipeline: contracts on each bar that has any
            counts = [row[1] for row in chart.table.rows]
            assert chart.values == [count for count in counts if count != "0"]
            assert len(chart.labels) == len(counts)
        else:
            assert chart.values == figures
            assert len(chart.labels) == len(chart.table.rows)
    assert len(ids) == 12  # every title and description has an id of its own


async def test_people_without_an_estate_role_get_a_clear_refusal(
    portal: httpx.AsyncClient, sign_in: SignIn
) -> None:
    for persona in ("requester", "owner"):
        await sign_in(portal, persona)
        for path in ("/dashboard", "/dashboard/lists/systems"):
            answer = await portal.get(path)
            assert answer.status_code == 403, (persona, path)
            assert "You cannot see this page" in answer.text
            assert "Traceback" not in answer.text
    await sign_in(portal, "auditor")
    assert (await portal.get("/dashboard")).status_code == 200


# --- lists ------------------------------------------------------------------------------------------------


async def test_a_list_is_paged_and_links_each_system_to_its_page(
    portal: httpx.AsyncClient,
    sign_in: SignIn,
    stack: Stack,
    portal_auth: AuthSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dashboard, "PAGE_SIZE", 5)
    await sign_in(portal, "contract-manager")
    everything = await _api(
        stack, portal_auth, "contract-manager", "/api/v1/estate/lists/systems", page_size=500
    )
    total = everything["total"]
    assert total > 10
    second = await portal.get("/dashboard/lists/systems?page=2")
    assert second.status_code == 200, second.text
    page = Page(second.text)
    table = page.table(f"{total} records: 6 to 10 shown")
    expected = everything["items"][5:10]
    assert [row[0] for row in table.rows] == [item["name"] for item in expected]
    assert table.links == [f"/systems/{item['id']}" for item in expected]
    assert "/dashboard/lists/systems?page=1" in page.links  # previous
    assert "/dashboard/lists/systems?page=3" in page.links  # next
    assert "/exports/lists/systems.csv" in page.links and "/exports/lists/systems.xlsx" in page.links
    assert "<title>Every system (page 2 of" in second.text

    beyond = await portal.get(f"/dashboard/lists/systems?page={total}")
    assert beyond.status_code == 404
    assert "Page not found" in beyond.text


async def test_contract_lists_link_to_contracts_and_the_risk_lists_to_their_records(
    portal: httpx.AsyncClient, sign_in: SignIn, stack: Stack, portal_auth: AuthSettings
) -> None:
    await sign_in(portal, "tda-member")
    answer = await portal.get("/dashboard/lists/pipeline")
    assert answer.status_code == 200
    pipeline = await _api(stack, portal_auth, "tda-member", "/api/v1/estate/lists/pipeline")
    table = Page(answer.text).table(f"{pipeline['total']} record")
    assert table.links == [f"/contracts/{item['id']}" for item in pipeline["items"]]
    assert [row[0] for row in table.rows] == [item["title"] for item in pipeline["items"]]

    no_owner = await _api(stack, portal_auth, "tda-member", "/api/v1/estate/lists/no-owner")
    table = Page((await portal.get("/dashboard/lists/no-owner")).text).table(f"{no_owner['total']} record")
    assert table.links == [f"/{item['kind']}s/{item['id']}" for item in no_owner["items"]]
    assert {item["kind"] for item in no_owner["items"]} == {"system", "contract"}


async def test_an_unknown_list_is_a_page_not_found(portal: httpx.AsyncClient, sign_in: SignIn) -> None:
    await sign_in(portal, "tda-chair")
    answer = await portal.get("/dashboard/lists/no-such-list")
    assert answer.status_code == 404
    assert "Page not found" in answer.text


# --- the pieces, without a page ---------------------------------------------------------------------------


def test_charts_scale_to_round_steps_and_draw_each_figure_once() -> None:
    from estate_portal.charts import Point, bar_chart, column_chart, nice_step

    assert [nice_step(n, whole=True) for n in (0, 1, 3, 7, 12, 95)] == [1.0, 1.0, 1.0, 2.0, 5.0, 20.0]
    points = [Point("January 2027", 2, "2", "Jan", "2027"), Point("February 2027", 0, "0", "Feb")]
    columns = column_chart(points, id="c", title="t", description="d")
    assert [bar.shown for bar in columns.bars] == ["2", ""]  # no figure on an empty month
    assert columns.bars[1].height == 0 and columns.bars[0].height > 0
    assert columns.labelled_by == "c-title c-desc"
    bars = bar_chart(
        [Point("A very long supplier name that will not fit the axis", 10, "£10")],
        id="b",
        title="t",
        description="d",
    )
    assert bars.bars[0].axis_label.endswith("…") and len(bars.bars[0].axis_label) == 30


def test_figures_answered_while_the_register_recomputes_them_say_so() -> None:
    from estate_portal.views.dashboard import build_dashboard

    assert build_dashboard({"as_of": "2026-11-21", "refreshing": True})["refreshing"] is True
    assert build_dashboard({"as_of": "2026-11-21"})["refreshing"] is False
