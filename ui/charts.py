"""Plotly figures of the Compare page, as HTML fragments that use the app's own copy of plotly.js (no CDN).

Figures are plain Plotly JSON (dicts) rendered without Python-side validation: building ``go.Figure`` objects
costs a one-off ~0.4 s of validator set-up per process and a few ms per figure, for no change in the output.
The browser tests check that the charts draw.
"""

from __future__ import annotations

from typing import Any

import plotly.io as pio

from ui.data import Confusion, Reliability

#: The two models' colours on every chart (A blue, B orange), matching the page's CSS.
COLOURS = ("#2563eb", "#ea580c")
_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}


def _html(figure: dict[str, Any], div_id: str) -> str:
    return pio.to_html(figure, include_plotlyjs=False, full_html=False, config=_CONFIG, div_id=div_id, validate=False)


def confusion_heatmap(matrix: Confusion, title: str, div_id: str) -> str:
    """A confusion matrix as a heatmap: gold labels down, predictions across, counts in the cells."""
    heatmap = {
        "type": "heatmap",
        "z": matrix.counts,
        "x": matrix.labels,
        "y": matrix.labels,
        # Explicit white-to-blue: plotly.js's own "Blues" runs the other way from Python's.
        "colorscale": [[0.0, "#f8fafc"], [1.0, "#1d4ed8"]],
        # Zero cells stay blank: a 25 x 25 matrix of mostly zeros is unreadable with every count printed.
        "text": [[f"{c:,}" if c else "" for c in row] for row in matrix.counts],
        "texttemplate": "%{text}",
        "hovertemplate": "gold %{y}<br>predicted %{x}<br>%{z} examples<extra></extra>",
        "showscale": False,
    }
    layout = {
        "title": {"text": title, "font": {"size": 14}},
        "height": max(320, 26 * len(matrix.labels) + 200),
        "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
        "xaxis": {"title": {"text": "predicted"}, "tickangle": -45, "automargin": True},
        "yaxis": {"title": {"text": "gold"}, "autorange": "reversed", "automargin": True},
        "font": {"size": 11},
    }
    return _html({"data": [heatmap], "layout": layout}, div_id)


def reliability_diagram(title: str, a: Reliability, b: Reliability, names: tuple[str, str], div_id: str) -> str:
    """Observed frequency against mean predicted probability per bin, both models, with the diagonal."""
    traces: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "x": [0, 1],
            "y": [0, 1],
            "mode": "lines",
            "line": {"dash": "dot", "color": "#9ca3af"},
            "name": "perfect",
        }
    ]
    for rel, name, colour in ((a, names[0], COLOURS[0]), (b, names[1], COLOURS[1])):
        if not rel.n:
            continue
        ece = f" (ECE {rel.ece:.3f})" if rel.ece is not None else ""
        traces.append(
            {
                "type": "scatter",
                "x": rel.mean_predicted,
                "y": rel.observed,
                "mode": "lines+markers",
                "name": f"{name}{ece}",
                "line": {"color": colour},
                "marker": {"size": [min(18.0, 6 + c**0.5) for c in rel.counts]},
                "customdata": rel.counts,
                "hovertemplate": "predicted %{x:.2f}<br>observed %{y:.2f}<br>%{customdata} examples<extra></extra>",
            }
        )
    layout = {
        "title": {"text": title, "font": {"size": 14}},
        "height": 340,
        "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
        "xaxis": {"title": {"text": "mean predicted probability"}, "range": [-0.02, 1.02], "automargin": True},
        "yaxis": {"title": {"text": "observed frequency"}, "range": [-0.02, 1.02], "automargin": True},
        "legend": {"orientation": "h", "y": -0.25},
        "font": {"size": 11},
    }
    return _html({"data": traces, "layout": layout}, div_id)
