"""Every registered method is listed with its kind, and every registered localizer runs end to end
through `dknbench run` and a `localizer=` task."""

import json

import pytest

from conftest import DKN_METHODS, LOCALIZERS
from dknbench.cli import main


def test_list_methods_shows_every_registered_method_with_its_kind(capsys):
    assert main(["list", "methods"]) == 0
    listed = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.strip()}
    for registry, kind in ((LOCALIZERS, "[localizer]"), (DKN_METHODS, "[dkn]")):
        for name in registry.names():
            assert name in listed and kind in listed[name], name


@pytest.mark.slow
def test_kn_localization_and_gcr_run_with_every_localizer(tmp_path, isolated_cache):
    out = tmp_path / "kn"
    assert main(["run", "--task", "kn-localization", "--method", ",".join(LOCALIZERS.names()), "--model",
                 "tiny-gpt2", "--limit", "3", "--output", str(out), "--set", "steps=3", "--set", "known_only=false",
                 "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert {m["method"] for m in summary["metrics"] if m["metric"] == "SR"} == set(LOCALIZERS.names())
    rows = [row for p in sorted((out / "facts").glob("*.json")) for row in json.loads(p.read_text())["rows"]]
    assert {r["method"] for r in rows} == set(LOCALIZERS.names())
    assert all(r["n_kns"] > 0 for r in rows), [(r["method"], r["n_kns"]) for r in rows if not r["n_kns"]]
    # a task taking `localizer=` (GCR through dkn_common) accepts a subject-corrupting localizer
    gcr = tmp_path / "gcr"
    assert main(["run", "--task", "gcr", "--method", "ntc", "--model", "tiny-gpt2", "--limit", "2",
                 "--output", str(gcr), "--set", "localizer=atp", "--set", "tau2=0", "--set", "tau=0.05",
                 "--set", "known_only=false", "--quiet"]) == 0  # random weights know no fact (else exit 3)
    assert (gcr / "summary.json").is_file()
