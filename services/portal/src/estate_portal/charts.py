"""Accessible charts, drawn on the server as SVG: pure functions from figures to what a template draws.

Every chart is an image with a name and a description (``role="img"``, ``<title>``, ``<desc>``,
``aria-labelledby`` naming both) and is followed on the page by a table of the very same figures:
:func:`column_chart` and :func:`bar_chart` give the drawing, :func:`figures_table` the table, both from
one list of :class:`Point`, so a chart and its table cannot disagree. Nothing here is coloured to carry
meaning on its own: bar lengths are labelled with their figures and the table says everything again.

Geometry is in the SVG's own units (a ``viewBox``); CSS scales the drawing to the column it sits in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

Number = int | Decimal


@dataclass(frozen=True, slots=True)
class Point:
    """One figure: what it is, how much, and how to write it."""

    label: str
    """In full, as the table and the description say it ("March 2027", "Civica UK Ltd")."""
    value: Number
    shown: str
    """The value as written ("3", "£12,345")."""
    axis_label: str | None = None
    """A short form for a crowded axis ("Mar"); the full label when not given."""
    group_label: str | None = None
    """A second axis line where a group starts (the year, under January and under the first month)."""


@dataclass(frozen=True, slots=True)
class Bar:
    """A bar as drawn, with its label and its figure's position."""

    label: str
    shown: str
    x: float
    y: float
    width: float
    height: float
    label_x: float
    label_y: float
    value_x: float
    value_y: float
    axis_label: str
    group_label: str | None
    group_y: float


@dataclass(frozen=True, slots=True)
class Gridline:
    """A value line across the plot, with its figure at the axis."""

    position: float
    text: str
    text_x: float
    text_y: float
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True, slots=True)
class Chart:
    """A drawing for ``dashboard/_charts.html``'s ``svg`` macro."""

    id: str
    title: str
    description: str
    kind: str
    """``columns`` (vertical bars along a time axis) or ``bars`` (horizontal, one row per category)."""
    width: int
    height: int
    bars: tuple[Bar, ...]
    gridlines: tuple[Gridline, ...]
    baseline: tuple[float, float, float, float]
    empty: bool

    @property
    def labelled_by(self) -> str:
        return f"{self.id}-title {self.id}-desc"


def nice_step(largest: float, most_ticks: int = 5, *, whole: bool = False) -> float:
    """A round step (1, 2 or 5 times a power of ten) so that 0 to ``largest`` needs at most ``most_ticks``
    steps; never below 1 for whole numbers (no line at "0.5 contracts")."""
    if largest <= 0:
        return 1.0
    raw = largest / most_ticks
    power = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 5, 10):
        step = multiple * power
        if step >= raw:
            break
    if whole:
        step = max(1.0, float(math.ceil(step)))
    return float(step)


def _ticks(largest: float, *, whole: bool) -> list[float]:
    step = nice_step(largest, whole=whole)
    top = step * max(1, math.ceil(largest / step))
    count = round(top / step)
    return [step * i for i in range(count + 1)]


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _is_whole(points: Sequence[Point]) -> bool:
    return all(isinstance(point.value, int) for point in points)


def describe(points: Sequence[Point], *, what: str, unit_words: Callable[[Point], str]) -> str:
    """The chart's description: ``what`` it shows (the caller says its range), then its largest figure
    as a sighted reader would see it, and where the figures are."""
    if not points:
        return f"{what}: there is nothing to show."
    largest = max(points, key=lambda point: point.value)
    if largest.value == 0:
        return f"{what}. Every figure is zero. The figures are in the table below."
    return f"{what}. The largest is {largest.label}, with {unit_words(largest)}. The figures are in the table below."


def column_chart(
    points: Sequence[Point],
    *,
    id: str,
    title: str,
    description: str,
    width: int = 720,
    height: int = 300,
) -> Chart:
    """Vertical bars in order along the x axis (months): the axis carries each point's short label and,
    where a group starts, the group's label on a second line; each non-zero bar has its figure on top."""
    left, right, top, bottom = 48.0, 8.0, 24.0, 56.0
    plot_width = width - left - right
    plot_height = height - top - bottom
    largest = float(max((point.value for point in points), default=0))
    ticks = _ticks(largest, whole=_is_whole(points))
    scale = plot_height / ticks[-1] if ticks[-1] else 0.0
    slot = plot_width / max(1, len(points))
    bar_width = slot * 0.7
    base_y = top + plot_height
    bars = []
    for index, point in enumerate(points):
        bar_height = float(point.value) * scale
        x = left + index * slot + (slot - bar_width) / 2
        centre = x + bar_width / 2
        bars.append(
            Bar(
                label=point.label,
                shown=point.shown if point.value else "",
                x=round(x, 2),
                y=round(base_y - bar_height, 2),
                width=round(bar_width, 2),
                height=round(bar_height, 2),
                label_x=round(centre, 2),
                label_y=base_y + 18,
                value_x=round(centre, 2),
                value_y=round(base_y - bar_height - 6, 2),
                axis_label=point.axis_label or point.label,
                group_label=point.group_label,
                group_y=base_y + 38,
            )
        )
    gridlines = tuple(
        Gridline(
            position=tick,
            text=_tick_text(tick),
            text_x=left - 8,
            text_y=round(base_y - tick * scale + 5, 2),
            x1=left,
            y1=round(base_y - tick * scale, 2),
            x2=width - right,
            y2=round(base_y - tick * scale, 2),
        )
        for tick in ticks
    )
    return Chart(
        id=id,
        title=title,
        description=description,
        kind="columns",
        width=width,
        height=height,
        bars=tuple(bars),
        gridlines=gridlines,
        baseline=(left, base_y, width - right, base_y),
        empty=not points,
    )


def bar_chart(
    points: Sequence[Point],
    *,
    id: str,
    title: str,
    description: str,
    width: int = 720,
    label_width: int = 230,
    row_height: int = 30,
) -> Chart:
    """Horizontal bars, one row per category in the order given; the category's name at the left
    (shortened if long: the table has it in full) and the figure at the end of its bar."""
    left = float(label_width)
    value_room = 110.0
    top = 8.0
    plot_width = width - left - value_room
    largest = float(max((point.value for point in points), default=0))
    scale = plot_width / largest if largest else 0.0
    height = int(top * 2 + row_height * max(1, len(points)))
    bars = []
    for index, point in enumerate(points):
        y = top + index * row_height
        length = float(point.value) * scale
        bars.append(
            Bar(
                label=point.label,
                shown=point.shown,
                x=left,
                y=y + row_height * 0.15,
                width=round(length, 2),
                height=round(row_height * 0.7, 2),
                label_x=left - 8,
                label_y=round(y + row_height * 0.5 + 5, 2),
                value_x=round(left + length + 6, 2),
                value_y=round(y + row_height * 0.5 + 5, 2),
                axis_label=_short(point.axis_label or point.label, 30),
                group_label=None,
                group_y=0.0,
            )
        )
    return Chart(
        id=id,
        title=title,
        description=description,
        kind="bars",
        width=width,
        height=height,
        bars=tuple(bars),
        gridlines=(),
        baseline=(left, top, left, height - top),
        empty=not points,
    )


def _tick_text(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}m"
    if value >= 1_000:
        return f"{value / 1_000:g}k"
    return f"{value:g}"


def figures_table(
    *,
    caption: str,
    head: Sequence[str],
    rows: Sequence[Sequence[Any]],
    numeric: Sequence[int] = (),
    caption_classes: str = "govuk-table__caption--s",
) -> dict[str, Any]:
    """The parameters of a ``govukTable``: the first cell of each row its header, figures right-aligned.
    A cell is text, or a mapping already in govukTable's form (``{"html": ...}``)."""
    numeric_columns = set(numeric)

    def cell(index: int, value: Any) -> dict[str, Any]:
        made = dict(value) if isinstance(value, dict) else {"text": str(value)}
        if index in numeric_columns:
            made["format"] = "numeric"
        return made

    return {
        "caption": caption,
        "captionClasses": caption_classes,
        "firstCellIsHeader": True,
        "head": [cell(index, {"text": text}) for index, text in enumerate(head)],
        "rows": [[cell(index, value) for index, value in enumerate(row)] for row in rows],
    }
