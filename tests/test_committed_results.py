"""The committed localizer run (docs/results, docs/results/localizers.md) is a
leaderboard source: the site built from it shows every registered localizer on the kn-localization
page, with no local path."""

from __future__ import annotations

import json
from pathlib import Path

from dknbench.cli import main
from dknbench.localization import LOCALIZERS

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"


def test_committed_localizer_run_builds_a_site_with_every_localizer(tmp_path):
    summary = json.loads((RESULTS / "kn-localization-localizers" / "summary.json").read_text())
    assert summary["n_used"] >= 100 and set(summary["methods"]) == set(LOCALIZERS.names())
    assert main(["leaderboard", "build", "--results", str(RESULTS), "--output", str(tmp_path / "site")]) == 0
    page = (tmp_path / "site" / "tasks" / "kn-localization.html").read_text()
    assert all(f">{name}<" in page for name in summary["methods"])
    assert "/work/" not in page and "/home/" not in page


def test_the_readme_localizer_table_is_what_the_script_prints_from_the_committed_files(capsys):
    """No hand-edited number: every row of the localizer table (docs/results/localizers.md) comes out of scripts/localizer_table.py
    run on the committed rows (samples.parquet, summarized by the current task code) and cost lines."""
    import importlib.util

    path = RESULTS.parents[1] / "scripts" / "localizer_table.py"
    spec = importlib.util.spec_from_file_location("localizer_table", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    folder = RESULTS / "kn-localization-localizers"
    assert module.main([str(folder), str(folder / "cost.jsonl")]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "---" not in line]
    section = (RESULTS / "localizers.md").read_text()  # the README links it
    assert len(rows) == 1 + len(LOCALIZERS.names())
    assert all(row in section.splitlines() for row in rows)
    assert section.count(rows[0]) == 1  # the header once


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
