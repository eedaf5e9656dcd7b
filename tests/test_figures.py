"""Figures fit for a paper: each method's colour is the palette's in every figure (checked on the
matplotlib artists), error bars from per-fact values, task/model/n in the title, shared y-scales
in delta_prob_curves, and no placeholder image when there is nothing to plot."""

from __future__ import annotations

import json

import numpy as np
import pytest
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.colors import to_hex
from matplotlib.container import BarContainer, ErrorbarContainer

from dknbench.results import figures
from dknbench.results.figures import METHOD_COLOURS, method_colour, series_colours


@pytest.fixture()
def captured(monkeypatch):
    """Every figure a figures function saves, inspected before it is closed."""
    figs = []
    real = figures._save

    def keep(fig, path):
        figs.append(fig)
        fig.canvas.draw()
        return real(fig, path)

    monkeypatch.setattr(figures, "_save", keep)
    return figs


def drawn_colours(fig) -> list[tuple[str, str]]:
    """(label, colour) of each labelled bar group, error-bar line, violin body and scatter of a figure."""
    out = []
    for ax in fig.axes:
        for c in ax.containers:
            if isinstance(c, BarContainer):
                colours = {to_hex(p.get_facecolor()) for p in c.patches}
                assert len(colours) == 1  # one colour per series
                out.append((c.get_label(), colours.pop()))
            elif isinstance(c, ErrorbarContainer) and c.lines[0] is not None:  # not a bar's own bars
                out.append((c.get_label(), to_hex(c.lines[0].get_color())))
        for coll in ax.collections:
            if isinstance(coll, (PolyCollection, PathCollection)) and not coll.get_label().startswith("_"):
                out.append((coll.get_label(), to_hex(coll.get_facecolor()[0], keep_alpha=False)))
    return out


def method_of(label: str) -> str:
    return label.split(" (")[0]


def test_the_palette_is_keyed_by_name_and_distinct_for_registered_methods():
    from dknbench.dkn import DKN_METHODS
    from dknbench.localization import LOCALIZERS

    registered = set(LOCALIZERS.names()) | set(DKN_METHODS.names())
    assert registered <= set(METHOD_COLOURS)  # a new method must be given its own colour
    assert len(set(METHOD_COLOURS.values())) == len(METHOD_COLOURS)
    assert method_colour("ntc:K_I") == method_colour("ntc")
    assert method_colour("my-plugin") == method_colour("my-plugin")  # stable fallback
    colours = series_colours(["D", "N", "Rnd", "∅", "P", "R", "F1"])
    assert len(set(colours.values())) == len(colours)  # no two series of one figure alike


def test_each_method_keeps_its_colour_in_every_figure(tmp_path, captured):
    rng = np.random.default_rng(0)
    neurons = {"kmeans": [(0, 1), (1, 2)], "ntc": [(1, 3)], "random": [(0, 0)]}
    assert figures.layer_distribution(neurons, 2, tmp_path / "a.png")
    curves = {"n=2": {"ntc": rng.normal(size=(4, 2)).tolist(), "kmeans": rng.normal(size=(3, 2)).tolist()},
              "n=3": {"random": rng.normal(size=(5, 3)).tolist(), "ntc": rng.normal(size=(2, 3)).tolist()}}
    assert figures.curves_by_group(curves, tmp_path / "b.png", "k", "ΔProb", "cardinality ")
    bars = {"g1": {"ntc:K_I": [0.1, 0.3], "ntc:K_II": 0.2, "cas:K_I": [0.5, 0.4, 0.6]}}
    assert figures.grouped_bars(bars, tmp_path / "c.png", "y", "t")
    seen = {}
    for fig in captured:
        pairs = drawn_colours(fig)
        assert pairs
        for label, colour in pairs:
            assert colour == to_hex(method_colour(method_of(label))), label
            seen.setdefault(method_of(label).split(":")[0], set()).add(colour)
    assert all(len(c) == 1 for c in seen.values()) and {"ntc", "kmeans", "random", "cas"} <= set(seen)


def test_error_bars_shared_y_and_titles(tmp_path, captured):
    (tmp_path / "run.json").write_text(json.dumps({"resolved": {"task": "gcr", "model": "tiny-gpt2"}}))
    (tmp_path / "facts").mkdir()
    for i in range(3):
        (tmp_path / "facts" / f"{i:06d}.json").write_text("{}")
    curves = {"n=2": {"ntc": [[0.0, 1.0], [0.2, 3.0]]}, "n=3": {"ntc": [[0.0, 10.0, 20.0], [1.0, 12.0, 24.0]]}}
    figures.curves_by_group(curves, tmp_path / "curves.png", "k", "ΔProb", "cardinality ")
    figures.grouped_bars({"g": {"ntc": [1.0, 2.0, 4.0]}}, tmp_path / "bars.png", "y", "Title")
    curve_fig, bar_fig = captured
    panels = [ax for ax in curve_fig.axes if ax.axison]
    assert len(panels) == 2 and panels[0].get_ylim() == panels[1].get_ylim()
    assert "gcr · tiny-gpt2 · n = 3 facts" in curve_fig._suptitle.get_text()
    assert "ntc 2" in panels[0].get_title()  # per-panel n
    (container,) = [c for c in panels[1].containers if isinstance(c, ErrorbarContainer)]
    assert container.has_yerr
    ax = bar_fig.axes[0]
    assert ax.get_title().splitlines() == ["Title", "gcr · tiny-gpt2 · n = 3 facts"]
    caps = [c for c in ax.containers if isinstance(c, BarContainer)][0].errorbar
    assert caps is not None and caps.has_yerr
    x = np.array([1.0, 2.0, 4.0])
    half = figures.mean_and_error(x)[2]
    from dknbench.stats import mean_ci

    assert half == pytest.approx(mean_ci(x).high - x.mean())


def test_nothing_to_plot_writes_no_placeholder(tmp_path):
    assert figures.layer_distribution({"ntc": []}, 4, tmp_path / "a.png") is None
    assert figures.curves_by_group({}, tmp_path / "b.png", "k", "y") is None
    assert figures.grouped_bars({}, tmp_path / "c.png", "y", "t") is None
    assert not list(tmp_path.iterdir())


def test_cs2_violins_take_the_method_colours(tmp_path, captured):
    from dknbench.tasks.kn_consistency import violin_by_relation

    cs2 = {"ig": {"P17": [0.1, 0.4, 0.3], "P19": [0.5, 0.2]}, "cas": {"P17": [0.6, 0.7]}}
    assert violin_by_relation(cs2, tmp_path / "v.png", 0.3) == "v.png"
    pairs = drawn_colours(captured[0])
    assert {label for label, _ in pairs} == {"ig", "cas"}
    assert all(colour == to_hex(method_colour(label)) for label, colour in pairs)


def test_a_gcr_run_draws_every_method_in_its_palette_colour(tmp_path, captured, isolated_cache):
    from dknbench.cli import main

    output = tmp_path / "gcr"
    assert main(["run", "--task", "gcr", "--method", "kmeans,ntc", "--model", "tiny-gpt2", "--limit", "3",
                 "--output", str(output), "--set", "steps=2", "--set", "localizer=ig", "--set", "tau2=0",
                 "--set", "tau=0.05", "--set", "known_only=false", "--quiet"]) == 0
    summary = json.loads((output / "summary.json").read_text())
    assert summary["figures"] and len(captured) == len(summary["figures"])
    for fig in captured:
        pairs = drawn_colours(fig)
        assert pairs and {method_of(label) for label, _ in pairs} <= {"kmeans", "ntc"}
        assert all(colour == to_hex(method_colour(method_of(label))) for label, colour in pairs)
        assert "gcr · tiny-gpt2 · n = 3 facts" in (fig._suptitle.get_text() if fig._suptitle
                                                   else fig.axes[0].get_title())
