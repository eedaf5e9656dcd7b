"""The console, `dknbench results` and the leaderboard show one set of numbers (issue 32.6): the
same n (facts used, not attempted), the same 3 significant figures, and no empty column."""

from __future__ import annotations

import io
import json
import re

from conftest import write_run
from dknbench.cli import main
from dknbench.harness.report import print_summary
from dknbench.leaderboard import build_site

USED, SELECTED = 7, 20


def run_with_skipped_facts(root):
    """A gcr run of 20 selected facts, 13 skipped as not known: its records are on the 7 used
    facts, except GCR, undefined on every fact (n = 0), which the YAML lists first."""
    run_dir = write_run(root, "gcr-ntc", method="ntc", figure=False, references=[],
                        values={("GCR", ""): None, ("GCR_mean_over_facts", ""): 14.17891,
                                ("dkn_rate", ""): 0.4285714},
                        undefined={("GCR", ""): "zero_sigma on every fact"})
    path = run_dir / "summary.json"
    summary = json.loads(path.read_text())
    for record in summary["metrics"]:
        record["n"] = 0 if record["metric"] == "GCR" else USED
    summary.update(n_facts=SELECTED, n_used=USED, skipped={"not_known": SELECTED - USED})
    path.write_text(json.dumps(summary))
    return summary


def column(lines: list[str], header_index: int, name: str) -> list[str]:
    """The cells of column ``name`` of a console table whose header is ``lines[header_index]``."""
    names = lines[header_index].split()
    rows = []
    for line in lines[header_index + 1:]:
        if not line.strip():
            break
        rows.append(re.split(r"\s{2,}", line.strip()))
    return [row[names.index(name)] for row in rows]


def test_site_console_and_results_show_the_same_n_and_figures(tmp_path, capsys):
    root = tmp_path / "runs"
    summary = run_with_skipped_facts(root)

    console = io.StringIO()
    print_summary(summary, console)
    lines = console.getvalue().splitlines()
    assert f"facts {USED}/{SELECTED} used" in lines[0]
    header = next(i for i, line in enumerate(lines) if line.startswith("method"))
    assert "group" not in lines[header].split()  # no group in this run: no empty column
    assert column(lines, header, "n") == [str(USED)]  # not 0, the undefined GCR's n
    assert column(lines, header, "GCR_mean_over_facts") == ["14.2 [13.9, 14.4]"]
    assert "n=0" in column(lines, header, "GCR")[0]  # the one record on another n says so

    assert main(["results", str(root)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert f"facts {USED}/{SELECTED} used" in out[0]
    assert "group" not in out[1].split()
    assert column(out, 1, "n") == [str(USED)]
    assert column(out, 1, "GCR_mean_over_facts") == ["14.2 [13.9, 14.4]"]

    build_site(root, tmp_path / "site")
    page = (tmp_path / "site" / "tasks" / "gcr.html").read_text()
    assert f"facts {USED}/{SELECTED} used" in page and f"n = {SELECTED}" not in page
    cells = re.findall(r'<td class="num n"[^>]*>([^<]*)</td>', page)
    assert cells and set(cells) == {"0", str(USED)}  # each record's own n: GCR's 0 beside the others' 7
    assert re.search(r">14\.2<", page) and "14.18" not in page  # 3 significant figures, as the console
    assert "[13.9, 14.4]" in page
    assert '<th scope="col">group</th>' not in page  # the empty group column is left out
    assert 'class="num paper"' not in page  # no reference in this run: no paper column
    runs_table = re.findall(r'<td class="num facts"[^>]*>([^<]*)</td>', page)
    assert runs_table == [f"{USED}/{SELECTED} used"]
    index = (tmp_path / "site" / "index.html").read_text()
    assert f"facts {USED}/{SELECTED} used" in index and '<th scope="col">group</th>' not in index


def test_a_grouped_run_keeps_its_group_column_everywhere(tmp_path, capsys):
    root = tmp_path / "runs"
    write_run(root, "gcr-ntc", method="ntc", figure=False, values={("GCR", "2"): 1.5, ("GCR", "3"): 2.5})
    assert main(["results", str(root)]) == 0
    assert "group" in capsys.readouterr().out.splitlines()[1].split()
    build_site(root, tmp_path / "site")
    assert '<th scope="col">group</th>' in (tmp_path / "site" / "tasks" / "gcr.html").read_text()
    assert '<th scope="col">group</th>' in (tmp_path / "site" / "index.html").read_text()
