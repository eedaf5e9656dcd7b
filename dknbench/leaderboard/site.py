"""Render the leaderboard: index.html (tasks x methods per model), one page per task, the runs'
figures and the static assets, with jinja2 templates from ``leaderboard_dir()/templates``."""

from __future__ import annotations

import datetime as _dt
import math
import re
import shutil
from pathlib import Path

from ..errors import DKNBenchError
from ..harness.report import facts_used, sig3
from ..io import atomic_write, check_replaceable, replace_folder
from ..models.loading import canonical_model_name
from ..paths import leaderboard_dir
from ..results.store import load_source
from .tables import ALPHA, CONFIDENCE, TEST, LeaderboardData, prepare, varying_options


def fmt(value) -> str:
    """A number for a table cell as the console prints it (``harness.report.sig3``: 3 significant
    figures), an em dash when missing."""
    if value is None:
        return "—"
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(value):
        return "—"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return sig3(value)


def fmt_p(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def sort_key(value) -> str:
    """The ``data-sort`` attribute: numbers as repr, missing as "" (sorted last by sortable.js)."""
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return "" if math.isnan(value) else repr(float(value))
    return str(value)


def task_slug(task: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", task)


def _environment(templates: Path):
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates)),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(fmt=fmt, fmt_p=fmt_p, sort_key=sort_key, slug=task_slug)
    return env


def _sections(data: LeaderboardData, task: str) -> list[dict]:
    """One section per comparable configuration of ``task``: its label, its methods (columns),
    its rows, and one line per metric/group with a cell per method."""
    configs = data.configurations_for(task)
    varying = varying_options(configs)
    sections = []
    for config in configs:
        rows = data.rows_for(task=task, config_id=config.id)
        methods = sorted({r.method for r in rows})
        runs = [run for run in data.runs_for(task) if data.run_configs.get(str(run.run_dir)) == config.id]
        lines: dict[tuple, dict] = {}
        for row in rows:
            line = lines.setdefault((row.metric, row.group), {
                "task": row.task, "metric": row.metric, "group": row.group,
                "direction": row.direction, "cells": {}})
            line["cells"][row.method] = row
        used = used_label(runs)
        sections.append({"id": config.id, "config": config, "label": config.describe(varying, used=used),
                         "options": config.describe(used=used), "methods": methods, "rows": rows,
                         "lines": list(lines.values()), "shown": shown_columns(rows),
                         "method_params": _method_params(data, config.id, methods)})
    return sections



def _method_params(data: LeaderboardData, config_id: str, methods: list[str]) -> dict[str, str]:
    """method -> "name=value ..." of its hyper-parameters as its run recorded them (summary.json
    ``config.method_params``; runs from before it was recorded have none), e.g. atp's direction."""
    shown: dict[str, str] = {}
    for run in data.runs:
        if data.run_configs.get(str(run.run_dir)) != config_id:
            continue
        recorded = (run.summary.get("config") or {}).get("method_params") or {}
        for name, params in recorded.items():
            if isinstance(params, dict) and (name in methods or params.get("kind") == "localizer"):
                shown[name] = " ".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "kind")
    return dict(sorted(shown.items()))



def used_label(runs) -> str | None:
    """``7/20 used`` (the console's words) when the configuration's runs agree, else one per
    method; None without runs."""
    labels = {facts_used(run.summary): ", ".join(run.summary.get("methods") or []) for run in runs}
    if len(labels) <= 1:
        return next(iter(labels), None)
    return "; ".join(f"{label} ({methods})" for label, methods in sorted(labels.items()))


def shown_columns(rows) -> set[str]:
    """The optional columns with something in them: an empty column is not shown."""
    checks = {"group": lambda r: r.group, "paper": lambda r: r.reference is not None,
              "vs": lambda r: r.versus, "p": lambda r: r.p is not None, "d": lambda r: r.d is not None,
              "sig": lambda r: r.stars}
    return {name for name, check in checks.items() if any(check(r) for r in rows)}


def _copy(source: Path, target: Path) -> None:
    atomic_write(target, lambda tmp: shutil.copyfile(source, tmp))


def _write(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def build_site(results: str | Path, output: str | Path, title: str = "dknbench leaderboard") -> Path:
    """Build the static site from ``results`` (a folder of run directories or a results dataset
    folder) into ``output``; returns the path of index.html."""
    from .. import __version__

    check_replaceable(output)  # before reading the runs: a refused --output costs nothing
    frame, runs = load_source(results)
    if frame.empty:
        raise DKNBenchError(f"{results}: the runs contain no metric records; nothing to show")
    data = prepare(frame, runs)
    output = Path(output)
    root = leaderboard_dir()
    templates, static = root / "templates", root / "static"
    if not (templates / "index.html.j2").is_file():
        raise DKNBenchError(f"{templates}: leaderboard templates not found (is the package complete?)")
    env = _environment(templates)
    common = {"title": title, "version": __version__, "confidence": int(CONFIDENCE * 100),
              "alpha": ALPHA, "test": TEST,
              "built": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "tasks": data.tasks(), "n_runs": len(runs)}

    # rendered beside ``output`` and swapped into place whole: a failed build leaves no partial
    # site, and a folder dknbench did not write (someone's index.html) is refused
    with replace_folder(output, "leaderboard build") as site:
        for asset in sorted(static.iterdir()):
            if asset.is_file():
                _copy(asset, site / "static" / asset.name)

        for task in data.tasks():
            figures = []
            for run in data.runs_for(task):
                methods = ", ".join(run.summary.get("methods") or [])
                for source in run.figure_paths:
                    relative = f"figures/{run.run_id}/{source.name}"
                    _copy(source, site / relative)
                    figures.append({"src": f"../{relative}", "caption": f"{source.name} — {methods} on "
                                    f"{canonical_model_name(run.model)}, facts {facts_used(run.summary)} "
                                    f"({data.run_configs.get(str(run.run_dir), '')})"})
            page = env.get_template("task.html.j2").render(
                **common, root="../", task=task, sections=_sections(data, task), figures=figures,
                references=data.references.get(task, []),
                runs=[{"name": r.run_dir.name, "config": data.run_configs.get(str(r.run_dir), ""),
                       "methods": ", ".join(r.summary.get("methods") or []),
                       "model": canonical_model_name(r.model), "created": r.summary.get("created") or "",
                       "n_used": r.summary.get("n_used"), "facts": facts_used(r.summary),
                       "skipped": r.summary.get("skipped") or {}}
                      for r in data.runs_for(task)])
            _write(site / "tasks" / f"{task_slug(task)}.html", page)

        overview = [{"task": task, "sections": _sections(data, task)} for task in data.tasks()]
        index = env.get_template("index.html.j2").render(**common, root="", overview=overview)
        _write(site / "index.html", index)
    return output / "index.html"
