"""The committed localizer run (docs/results, README 'Every localizer on one leaderboard') is a
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
    assert summary["n_used"] >= 72 and set(summary["methods"]) == set(LOCALIZERS.names())
    assert main(["leaderboard", "build", "--results", str(RESULTS), "--output", str(tmp_path / "site")]) == 0
    page = (tmp_path / "site" / "tasks" / "kn-localization.html").read_text()
    assert all(f">{name}<" in page for name in summary["methods"])
    assert "/work/" not in page and "/home/" not in page
