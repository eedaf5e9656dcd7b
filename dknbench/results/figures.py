"""Matplotlib figures written next to a run's results (PNG, headless Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _empty_note(ax, text: str) -> None:
    """An empty result still gets a readable figure, not a blank image."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])


def layer_distribution(neurons_by_method: dict[str, list], n_layers: int, path: Path,
                       title: str = "DKN neurons over layers") -> str:
    """Share of neurons per layer, one bar group per method (000 Fig. 3, 002 Fig. 3)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 3.5))
    methods = [m for m, ns in neurons_by_method.items() if ns]
    width = 0.8 / max(len(methods), 1)
    for i, method in enumerate(methods):
        layers = np.array([n[0] for n in neurons_by_method[method]])
        counts = np.bincount(layers, minlength=n_layers)[:n_layers]
        ax.bar(np.arange(n_layers) + i * width, 100 * counts / max(counts.sum(), 1), width, label=method)
    ax.set_xlabel("layer")
    ax.set_ylabel("% of neurons")
    ax.set_title(title)
    if methods:
        ax.legend(fontsize=8)
    else:
        _empty_note(ax, "no neurons to show (no method found any)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def curves_by_group(curves: dict[str, dict[str, list[float]]], path: Path, xlabel: str, ylabel: str,
                    title_prefix: str = "") -> str:
    """One subplot per group (e.g. DKN cardinality), one line per method (000 Fig. 4).

    ``curves[group][method]`` = y values for x = 1..len."""
    plt = _plt()
    groups = sorted(curves, key=lambda g: (len(g), g))
    cols = min(4, max(len(groups), 1))
    rows = int(np.ceil(max(len(groups), 1) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for ax in axes.flat[len(groups):]:
        ax.axis("off")
    methods = sorted({m for g in curves.values() for m in g})
    colour = {m: f"C{i % 10}" for i, m in enumerate(methods)}  # one colour per method everywhere
    for ax, group in zip(axes.flat, groups):
        for method, ys in sorted(curves[group].items()):
            ax.plot(np.arange(1, len(ys) + 1), ys, marker="o", label=method, color=colour[method])
        ax.set_xticks(np.arange(1, max(len(ys) for ys in curves[group].values()) + 1))
        ax.set_title(f"{title_prefix}{group}", fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
    if groups:
        axes.flat[0].legend(fontsize=7)
    else:
        axes.flat[0].axis("on")
        _empty_note(axes.flat[0], "no group to plot\n(e.g. no DKN with 2+ components)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def grouped_bars(values: dict[str, dict[str, float]], path: Path, ylabel: str, title: str) -> str:
    """values[group][series] -> bar height; a generic bar chart for task tables."""
    plt = _plt()
    groups = list(values)
    series = sorted({s for g in values.values() for s in g})
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(groups) * max(len(series), 1) / 2), 3.5))
    width = 0.8 / max(len(series), 1)
    for i, name in enumerate(series):
        ax.bar(np.arange(len(groups)) + i * width,
               [values[g].get(name, np.nan) for g in groups], width, label=name)
    ax.set_xticks(np.arange(len(groups)) + 0.4 - width / 2)
    ax.set_xticklabels(groups, fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name
