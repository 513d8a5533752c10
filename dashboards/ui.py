"""Dashboards stage: shared layout pieces — number formats, KPI tiles, tables with CSV download, empty states."""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboards.data import NoWarehouseError, WarehouseError

NO_WAREHOUSE = (
    "No warehouse has been published yet — run `crm refresh` (it ingests the CRM's data, builds the marts, "
    "checks them and publishes them); this page shows figures as soon as it has finished."
)
TIER_COLOURS = {"top": "#1b5e20", "high": "#43a047", "medium": "#9ccc65", "low": "#fbc02d", "none": "#bdbdbd"}
TABLE_ROWS = 200  # rows shown in the browser per table page; downloads contain every row
CHART_HEIGHT = 360

# Column formats by naming habit of the marts (money in the CRM's currency, ratios as 0..1).
MONEY_WORDS = (
    "revenue",
    "margin",
    "amount",
    "clv",
    "value",
    "cost",
    "profit",
    "collections",
    "spend",
    "price",
    "budget",
    "target",
    "actual",
    "forecast",
    "paid",
    "outstanding",
    "sales",
    "returns",
)
RATIO_WORDS = (
    "rate",
    "share",
    "ratio",
    "attainment",
    "p_alive",
    "probability",
    "confidence",
    "support",
    "pct",
    "change",
)


def names_any(column: str, words: Sequence[str]) -> bool:
    """Whether the column's name holds one of ``words`` as whole underscore-separated parts ("iterations" does not
    hold "ratio")."""
    padded = f"_{column}_"
    return any(f"_{word}_" in padded for word in words)


# ---------------------------------------------------------------------------------------------- numbers


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def money(value: Any, *, compact: bool = False) -> str:
    """A money figure in whole currency units with separators (``1,234,567``), or ``4.56 M`` when compact."""
    if is_missing(value):
        return "—"
    number = float(value)
    if not compact:
        return f"{number:,.0f}"
    size = abs(number)
    if size >= 1e9:
        return f"{number / 1e9:,.2f} B"
    if size >= 1e6:
        return f"{number / 1e6:,.2f} M"
    if size >= 1e4:
        return f"{number / 1e3:,.1f} k"
    return f"{number:,.0f}"


def percent(value: Any, digits: int = 1) -> str:
    """A ratio (0..1) as a percentage."""
    if is_missing(value):
        return "—"
    return f"{float(value) * 100:.{digits}f}%"


def count(value: Any) -> str:
    if is_missing(value):
        return "—"
    return f"{int(value):,}"


def number(value: Any, digits: int = 1) -> str:
    if is_missing(value):
        return "—"
    return f"{float(value):,.{digits}f}"


def days(value: Any) -> str:
    if is_missing(value):
        return "—"
    return f"{float(value):,.1f} days"


def change(current: Any, previous: Any) -> str | None:
    """The change against the prior period as a signed percentage (None when there is nothing to compare)."""
    if is_missing(current) or is_missing(previous) or float(previous) == 0:
        return None
    ratio = (float(current) - float(previous)) / abs(float(previous))
    if math.isinf(ratio) or math.isnan(ratio):
        return None
    return f"{ratio * 100:+.1f}% vs prior"


# ------------------------------------------------------------------------------------------- page parts


def kpi(
    label: str,
    value: str,
    delta: str | None = None,
    *,
    help: str | None = None,
    delta_color: Literal["normal", "inverse", "off"] = "normal",
) -> None:
    arrow: Literal["auto", "off"] = "off" if delta_color == "off" else "auto"
    st.metric(label, value, delta, help=help, delta_color=delta_color, delta_arrow=arrow, border=True)


def kpi_money(
    label: str,
    amount: Any,
    delta: str | None = None,
    *,
    help: str | None = None,
    delta_color: Literal["normal", "inverse", "off"] = "normal",
) -> None:
    """A money KPI shown compact (``2.44 M``), with the exact figure in its tooltip."""
    exact = f"Exact: {money(amount)}" if not is_missing(amount) else None
    tip = "  \n".join(part for part in (help, exact) if part) or None
    kpi(label, money(amount, compact=True), delta, help=tip, delta_color=delta_color)


def empty(message: str) -> None:
    """An explained empty state: what is missing and what would fill it."""
    st.info(message, icon=":material/info:")


def guard(render: Callable[[], None]) -> None:
    """Run a page body, turning "no warehouse" and warehouse errors into explanations instead of tracebacks."""
    try:
        render()
    except NoWarehouseError:
        empty(NO_WAREHOUSE)
    except WarehouseError as exc:
        st.warning(f"The warehouse could not answer this page: {exc}", icon=":material/warning:")


def column_config(frame: pd.DataFrame, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Formats for a frame's columns from their names: money with separators, ratios as percentages."""
    config: dict[str, Any] = {}
    for name in frame.columns:
        label = str(name).replace("_", " ")
        lowered = str(name).lower()
        dtype = frame[name].dtype
        if pd.api.types.is_bool_dtype(dtype):
            config[name] = st.column_config.CheckboxColumn(label)
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            if lowered.endswith("month"):
                config[name] = st.column_config.DateColumn(label, format="MMM YYYY")
            elif lowered.endswith(("_at", "_time")):
                config[name] = st.column_config.DatetimeColumn(label, format="YYYY-MM-DD HH:mm")
            else:
                config[name] = st.column_config.DateColumn(label, format="YYYY-MM-DD")
        elif pd.api.types.is_numeric_dtype(dtype):
            if lowered.endswith("_id") or lowered == "id":
                config[name] = st.column_config.NumberColumn(label, format="%d")
            elif names_any(lowered, RATIO_WORDS):
                config[name] = st.column_config.NumberColumn(label, format="percent")
            elif names_any(lowered, MONEY_WORDS):
                config[name] = st.column_config.NumberColumn(label, format="accounting")
            else:
                config[name] = st.column_config.NumberColumn(label, format="localized")
        else:
            config[name] = st.column_config.Column(label)
    config.update(overrides or {})
    return config


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV with a BOM, so spreadsheet programs read accents right."""
    return ("\ufeff" + frame.to_csv(index=False)).encode("utf-8")


def table(
    frame: pd.DataFrame,
    *,
    key: str,
    title: str | None = None,
    file_name: str | None = None,
    full: Callable[[], pd.DataFrame] | None = None,
    csv: Callable[[], bytes] | None = None,
    total_rows: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    empty_message: str = "Nothing matches the current filters.",
    height: int | Literal["auto"] = "auto",
) -> None:
    """A formatted table with a CSV download of every row (``full`` fetches them only when clicked, ``csv``
    produces the file itself)."""
    if title:
        st.markdown(f"**{title}**")
    if frame.empty:
        empty(empty_message)
        return
    shown = frame.head(TABLE_ROWS)
    st.dataframe(shown, hide_index=True, column_config=column_config(shown, overrides), height=height, key=key)
    rows = total_rows if total_rows is not None else len(frame)
    note = f"Showing {len(shown):,} of {rows:,} rows." if rows > len(shown) else f"{rows:,} rows."
    left, right = st.columns([3, 1], vertical_alignment="center")
    left.caption(note + " The download holds every row.")
    data: Any = csv if csv is not None else (lambda: csv_bytes(full())) if full is not None else csv_bytes(frame)
    right.download_button(
        "Download CSV",
        data=data,
        file_name=file_name or f"{key}.csv",
        mime="text/csv",
        key=f"{key}-csv",
        on_click="ignore",
        icon=":material/download:",
        width="stretch",
    )


def chart(figure: go.Figure, *, key: str, height: int = CHART_HEIGHT, names: Mapping[str, str] | None = None) -> None:
    """A plotly figure in the page's style; ``names`` renames traces (mart column → words)."""
    if names:
        figure.for_each_trace(lambda trace: trace.update(name=names.get(trace.name, trace.name)))
    figure.update_layout(height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10}, legend_title_text="")
    st.plotly_chart(figure, key=key, config={"displaylogo": False})


def section(key: str, options: Sequence[str]) -> str:
    """A row of section buttons; only the chosen section is computed and drawn (pages stay fast)."""
    chosen = st.segmented_control(
        "Section", options=list(options), default=options[0], key=key, required=True, label_visibility="collapsed"
    )
    return str(chosen or options[0])


def filters_caption(parts: Sequence[str]) -> None:
    if parts:
        st.caption(" · ".join(parts))


def as_date(value: Any) -> dt.date | None:
    if is_missing(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return pd.Timestamp(value).date()


PRELOADED_CHUNKS = ("PlotlyChart", "DataFrame", "arrowFormatUtils", "Metric", "DateInput", "Multiselect")


@functools.cache
def preload_script() -> str:
    """A script adding ``<link rel="modulepreload">`` for Streamlit's largest front-end chunks we use."""
    static = Path(st.__file__).resolve().parent / "static" / "static" / "js"
    names = sorted(p.name for chunk in PRELOADED_CHUNKS for p in static.glob(f"{chunk}.*.js"))
    hrefs = json.dumps([f"./static/js/{name}" for name in names])
    return (
        "<script>for (const href of "
        + hrefs
        + ") { if (!document.querySelector(`link[href='${href}']`)) { const link = document.createElement('link');"
        " link.rel = 'modulepreload'; link.href = href; document.head.appendChild(link); } }</script>"
    )
