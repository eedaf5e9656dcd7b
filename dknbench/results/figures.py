"""Matplotlib figures written next to a run's results (PNG, headless Agg backend).

Fit for a paper: one colour per method in every figure of every run (``method_colour``, keyed by
the name, never by the order a figure happens to list methods in), error bars from per-fact values
(95 % t-interval of the mean, ``stats.mean_ci``), the task, model and n in each title, shared
y-scales where panels are compared, and no figure at all when there is nothing to plot (a
function returns None then, and the caller lists no file)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

# Registered methods get fixed colours (tab10, then tab20's darker shades) so a method keeps its
# colour across figures, runs, versions and the site; a new name falls back to a hash of itself.
_TAB20 = ["#1f77b4", "#aec7e8", "#ff7f0e", "#ffbb78", "#2ca02c", "#98df8a", "#d62728", "#ff9896",
          "#9467bd", "#c5b0d5", "#8c564b", "#c49c94", "#e377c2", "#f7b6d2", "#7f7f7f", "#c7c7c7",
          "#bcbd22", "#dbdb8d", "#17becf", "#9edae5"]
METHOD_COLOURS = {
    "ntc": "#1f77b4", "kmeans": "#ff7f0e", "dbscan": "#2ca02c", "hierarchical": "#d62728",
    "amig-pairs": "#9467bd", "ig": "#8c564b", "amig": "#e377c2", "cas": "#7f7f7f", "atp": "#bcbd22",
    "grad-x-act": "#17becf", "captum-ig": "#aec7e8", "sig": "#ffbb78", "causal-tracing": "#98df8a",
    "random": "#c7c7c7",
}
_HATCHES = ["", "//", "..", "xx", "\\\\", "oo", "--", "++"]


def method_colour(name: str) -> str:
    """The colour of method (or series) ``name``: the part before ':' names the method, so
    'ntc:K_I' and 'ntc' share ntc's colour. Stable: the same name gets the same colour everywhere."""
    key = str(name).split(":", 1)[0].strip()
    if key in METHOD_COLOURS:
        return METHOD_COLOURS[key]
    return _TAB20[int(hashlib.sha1(key.encode()).hexdigest(), 16) % len(_TAB20)]


def series_colours(names) -> dict[str, str]:
    """``method_colour`` for each name of one figure; a non-method name whose hashed colour is
    already taken in this figure moves to the next free palette colour (methods never move)."""
    out, used = {}, set()
    keys = sorted(set(names), key=lambda n: (str(n).split(":", 1)[0] not in METHOD_COLOURS, str(n)))
    for name in keys:
        colour, key = method_colour(name), str(name).split(":", 1)[0].strip()
        if key not in METHOD_COLOURS and colour in used and not any(
                str(o).split(":", 1)[0].strip() == key for o in out):
            start = _TAB20.index(colour)
            colour = next((c for c in _TAB20[start:] + _TAB20[:start] if c not in used), colour)
        out[name] = colour
        used.add(colour)
    return out


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> str:
    """Write and close a figure (tests wrap this to inspect the artists first)."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _plt().close(fig)
    return path.name


def run_title(title: str, path: Path, n: int | None = None, unit: str = "facts") -> str:
    """``title`` plus a second line naming the run's task, model and n (read from the run.json
    beside ``path``; n defaults to the facts processed). Figures outside a run keep ``title``."""
    run_file = Path(path).parent / "run.json"
    try:
        resolved = json.loads(run_file.read_text(encoding="utf-8")).get("resolved") or {}
    except (OSError, ValueError):
        resolved = {}
    if n is None and (Path(path).parent / "facts").is_dir():
        n = len(list((Path(path).parent / "facts").glob("*.json")))
    parts = [str(resolved[k]) for k in ("task", "model") if resolved.get(k)]
    if n is not None:
        parts.append(f"n = {n} {unit}")
    return f"{title}\n{' · '.join(parts)}" if parts else title


def mean_and_error(value) -> tuple[float, float, float]:
    """(mean, lower error, upper error) of a number (no error bar) or of per-fact values (95 %
    t-interval of the mean; no bar below 2 finite values)."""
    from ..stats import mean_ci

    if value is None:
        return np.nan, np.nan, np.nan
    if np.ndim(value) == 0:
        return float(value), np.nan, np.nan
    x = np.asarray(value, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return np.nan, np.nan, np.nan
    ci = mean_ci(x)
    return ci.estimate, ci.estimate - ci.low, ci.high - ci.estimate


def layer_distribution(neurons_by_method: dict[str, list], n_layers: int, path: Path,
                       title: str = "DKN neurons over layers", n: int | None = None) -> str | None:
    """Share of neurons per layer, one bar group per method (000 Fig. 3, 002 Fig. 3).
    A descriptive distribution (no error bars); the legend gives each method's neuron count."""
    methods = [m for m, ns in neurons_by_method.items() if ns]
    if not methods:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 3.8))
    width = 0.8 / len(methods)
    colours = series_colours(methods)
    for i, method in enumerate(methods):
        layers = np.array([n_[0] for n_ in neurons_by_method[method]])
        counts = np.bincount(layers, minlength=n_layers)[:n_layers]
        ax.bar(np.arange(n_layers) + i * width, 100 * counts / max(counts.sum(), 1), width,
               label=f"{method} ({counts.sum()} neurons)", color=colours[method])
    ax.set_xticks(np.arange(n_layers) + 0.4 - width / 2)
    ax.set_xticklabels(range(n_layers), fontsize=7)
    ax.set_xlabel("layer")
    ax.set_ylabel("% of neurons")
    ax.set_title(run_title(title, path, n), fontsize=9)
    ax.legend(fontsize=8)
    return _save(fig, path)


def curves_by_group(curves: dict[str, dict[str, list]], path: Path, xlabel: str, ylabel: str,
                    title_prefix: str = "", title: str = "") -> str | None:
    """One subplot per group (e.g. DKN cardinality), one line per method (000 Fig. 4), on one
    shared y-scale so panels compare.

    ``curves[group][method]`` = per-fact curves (a list of equal-length lists: mean ± 95 % CI per x,
    n in the panel title) or one curve (a list of numbers); x = 1..len."""
    groups = sorted((g for g in curves if curves[g]), key=lambda g: (len(g), g))
    if not groups:
        return None
    plt = _plt()
    cols = min(4, len(groups))
    rows = int(np.ceil(len(groups) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.8 * rows + 0.6), squeeze=False,
                             sharey=True)
    for ax in axes.flat[len(groups):]:
        ax.axis("off")
    for ax, group in zip(axes.flat, groups):
        counts, length = [], 1
        for method, ys in sorted(curves[group].items()):
            if ys and np.ndim(ys[0]) == 1:  # per-fact curves; a shorter one is NaN-padded (no point)
                width = max(len(y) for y in ys)
                ys = [list(y) + [np.nan] * (width - len(y)) for y in ys]
            ys = np.asarray(ys, dtype=float)
            per_fact = ys.reshape(1, -1) if ys.ndim == 1 else ys
            stats = np.array([mean_and_error(per_fact[:, i] if ys.ndim == 2 else ys[i])
                              for i in range(per_fact.shape[1])])
            x = np.arange(1, per_fact.shape[1] + 1)
            length = max(length, len(x))
            ax.errorbar(x, stats[:, 0], yerr=np.nan_to_num(stats[:, 1:].T), marker="o", markersize=3,
                        capsize=2, label=method, color=method_colour(method))
            counts.append(f"{method} {per_fact.shape[0] if ys.ndim == 2 else '?'}")
        ax.set_xticks(np.arange(1, length + 1))
        ax.set_title(f"{title_prefix}{group} (n: {', '.join(counts)})", fontsize=8)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(run_title(title or f"{ylabel} by {title_prefix.strip() or 'group'} (mean ± 95 % CI)", path),
                 fontsize=9)
    return _save(fig, path)


def grouped_bars(values: dict[str, dict], path: Path, ylabel: str, title: str,
                 n: int | None = None) -> str | None:
    """values[group][series] -> a bar height, or per-fact values (bar = mean, error bar = 95 %
    t-interval). A series 'method:kind' takes the method's colour and a hatch per kind."""
    groups = list(values)
    series = sorted({s for g in values.values() for s in g})
    if not groups or not series:
        return None
    plt = _plt()
    suffixes = sorted({s.split(":", 1)[1] if ":" in s else "" for s in series})
    fig, ax = plt.subplots(figsize=(max(5.5, 1.2 * len(groups) * len(series) / 2), 3.8))
    width = 0.8 / len(series)
    colours = series_colours(series)
    for i, name in enumerate(series):
        stats = np.array([mean_and_error(values[g].get(name)) for g in groups])
        suffix = name.split(":", 1)[1] if ":" in name else ""
        ax.bar(np.arange(len(groups)) + i * width, stats[:, 0], width, label=name,
               color=colours[name], hatch=_HATCHES[suffixes.index(suffix) % len(_HATCHES)],
               edgecolor="black", linewidth=0.4,
               yerr=None if np.isnan(stats[:, 1:]).all() else np.nan_to_num(stats[:, 1:].T), capsize=2)
    ax.set_xticks(np.arange(len(groups)) + 0.4 - width / 2)
    ax.set_xticklabels(groups, fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(run_title(title, path, n), fontsize=9)
    ax.legend(fontsize=8)
    return _save(fig, path)


def scores_against_threshold(scores: dict[str, list[list[float]]], threshold: float | None, path: Path,
                             ylabel: str, title: str) -> str:
    """``scores[method]`` = one list of candidate scores per fact: each fact's candidates share one
    jittered column, its best candidate ringed; the threshold is a dashed line. Always written: a
    method without any candidate says so on its column, so an empty result still shows why."""
    plt = _plt()
    methods = list(scores)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.3 * len(methods) + 2.5), 3.8))
    rng = np.random.default_rng(0)  # jitter only; fixed so the figure is the same on a rerun
    top = max([threshold or 0.0] + [v for facts in scores.values() for f in facts for v in f if np.isfinite(v)])
    for i, method in enumerate(methods):
        facts = [np.asarray(f, dtype=float) for f in scores[method] if len(f)]
        if not facts:
            ax.text(i, 0.5 * (top or 1.0), "no candidate", ha="center", fontsize=8, rotation=90)
            continue
        xs = i + rng.uniform(-0.3, 0.3, len(facts))
        ax.scatter(np.repeat(xs, [f.size for f in facts]), np.concatenate(facts), s=8, alpha=0.5,
                   color=method_colour(method), label=f"{method} ({sum(f.size for f in facts)} candidates)")
        ax.scatter(xs, [f.max() for f in facts], s=30, facecolors="none", edgecolors="black", linewidths=0.6)
    if threshold is not None:
        ax.axhline(threshold, linestyle="--", color="black", linewidth=0.8, label=f"τ2 = {threshold:g}")
    ax.set_xticks(range(len(methods)))
    ax.set_xticklabels(methods, fontsize=8)
    ax.set_xlim(-0.6, len(methods) - 0.4)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_title(run_title(title, path), fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    return _save(fig, path)
