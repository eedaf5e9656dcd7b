"""The committed result pages are what their scripts print from the committed run folders, and the
localizer runs (docs/results/localizers) are leaderboard sources: the site built from them shows
each localizer they ran on the kn-localization page, with no local path."""

from __future__ import annotations

import json
from pathlib import Path

from dknbench.cli import main

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"


LOCALIZER_RUNS = RESULTS / "localizers"
# the page's table command (docs/results/localizers.md shows it; run from the repository root)
LOCALIZER_TABLE_ARGV = ["--run", "known-facts=docs/results/localizers/known-facts",
                        "--extra", "docs/results/localizers/known-facts-atp-corrupt",
                        "--run", "all-facts=docs/results/localizers/all-facts",
                        "--extra", "docs/results/localizers/all-facts-atp-corrupt"]
TABLE_START, TABLE_END = "<!-- localizer-table:start -->", "<!-- localizer-table:end -->"


def test_committed_localizer_runs_build_a_site_with_each_of_their_localizers(tmp_path):
    """Each finished localizer run of docs/results/localizers is a leaderboard source: the site shows
    every localizer it ran (the atp variant under its label) on the kn-localization page."""
    summaries = [json.loads(path.read_text()) for path in sorted(LOCALIZER_RUNS.glob("*/summary.json"))]
    assert summaries, "no finished localizer run under docs/results/localizers"
    methods = {m for summary in summaries for m in summary["methods"]}
    assert all(summary["n_used"] >= 100 for summary in summaries)
    assert main(["leaderboard", "build", "--results", str(RESULTS), "--output", str(tmp_path / "site")]) == 0
    page = (tmp_path / "site" / "tasks" / "kn-localization.html").read_text()
    assert all(f">{name}<" in page for name in methods)
    assert "/work/" not in page and "/home/" not in page


def test_the_localizer_page_is_what_the_script_prints_from_the_committed_folders(monkeypatch):
    """No hand-edited number: docs/results/localizers.md's tables are scripts/localizer_table.py's
    output on the committed run folders, byte for byte, and the page shows that command."""
    import importlib.util

    path = RESULTS.parents[1] / "scripts" / "localizer_table.py"
    spec = importlib.util.spec_from_file_location("localizer_table", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.chdir(RESULTS.parents[1])  # the folders as the page names them
    page = (RESULTS / "localizers.md").read_text(encoding="utf-8")
    assert "python scripts/localizer_table.py " + " ".join(LOCALIZER_TABLE_ARGV) in page
    block = page.split(TABLE_START + "\n", 1)[1].split(TABLE_END, 1)[0]
    assert block == module.render(LOCALIZER_TABLE_ARGV)
    for name in ("known-facts", "all-facts"):  # both gates, finished, at n >= 100 attempted facts
        assert f"- docs/results/localizers/{name} (" in block
        assert f"docs/results/localizers/{name} (ig, amig, sig, cas, grad-x-act, atp, causal-tracing, random): " \
               "finished, 100 facts" in block


def test_the_gcr_readings_page_is_what_the_script_prints_from_the_committed_folders():
    """docs/results/gcr-readings.md: the after table and the before/after comparison come out of
    scripts/gcr_readings.py run on the committed per-fact folders (issue 26.6)."""
    import importlib.util

    path = RESULTS.parents[1] / "scripts" / "gcr_readings.py"
    spec = importlib.util.spec_from_file_location("gcr_readings", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    folder = RESULTS / "gcr-readings"
    page = (RESULTS / "gcr-readings.md").read_text()
    table = module.table(folder / "after")
    assert table.splitlines()[0].startswith("392 facts attempted")
    assert table in page
    assert module.compare(folder / "before", folder / "after") in page
