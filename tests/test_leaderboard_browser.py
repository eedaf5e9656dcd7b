"""The leaderboard: significance/CI bookkeeping (plain tests) and the built site in headless
chromium (marked `browser`; skipped only when chromium or chromedriver is not installed)."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
import numpy as np
from scipy import stats as st

from dknbench.cli import main
from dknbench.errors import DKNBenchError
from dknbench.leaderboard import build_site, make_server, prepare
from dknbench.results import collect, load_source, write_results
from conftest import needs, write_run

REPO = Path(__file__).resolve().parents[1]
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
NTC = [1.2, 1.4, 1.9, 1.5, 1.6]
KMEANS = [0.4, 0.6, 0.5, 0.5, 0.9]
NTC_4, KMEANS_4 = [1.0, 3.0, 0.5, 2.5], [1.2, 1.0, 2.0, 0.8]  # ntc ahead, not significantly: a tie
REFERENCES = [{"source": "000 Table 1", "model": "gpt2", "method": "ntc", "metric": "GCR", "group": "2", "value": 1.23}]


@pytest.fixture
def two_runs(tmp_path):
    """Two methods on the same task and configuration. Overview rows start as group 2, 3, 4;
    sorting by kmeans ascending puts group 3 (0.2) before group 2 (0.9) and 4 (1.25)."""
    root = tmp_path / "runs"
    write_run(root, "gcr-ntc", method="ntc", values={("GCR", "2"): 1.5, ("GCR", "3"): 2.0, ("GCR", "4"): 1.75},
              per_fact={"ntc": {"GCR@2": NTC, "GCR@4": NTC_4}}, references=REFERENCES, created="2024-05-01T10:00:00")
    write_run(root, "gcr-kmeans", method="kmeans", values={("GCR", "2"): 0.9, ("GCR", "3"): 0.2, ("GCR", "4"): 1.25},
              per_fact={"kmeans": {"GCR@2": KMEANS, "GCR@4": KMEANS_4}}, references=REFERENCES,
              created="2024-05-01T11:00:00",
              comparisons=[{"method_a": "kmeans", "method_b": "ntc", "metric": "GCR@3", "t": -2.0,
                            "p": 0.06, "welch_t": -2.1, "welch_p": 0.04, "cohens_d": -0.8,
                            "n_a": 10, "n_b": 10}])
    return root


def _rows(frame, runs):
    return {(r.method, r.group): r for r in prepare(frame, runs).rows}


def test_prepare_uses_per_fact_values_for_ci_and_welch(two_runs):
    rows = _rows(*load_source(two_runs))
    ntc, kmeans = rows[("ntc", "2")], rows[("kmeans", "2")]
    assert ntc.best and not kmeans.best and ntc.versus == "kmeans" and kmeans.versus == "ntc"
    welch = st.ttest_ind(NTC, KMEANS, equal_var=False)
    assert ntc.p == pytest.approx(welch.pvalue, abs=1e-12) and ntc.test_source == "per-fact"
    assert ntc.d > 0 and kmeans.d == pytest.approx(-ntc.d)
    low, high = st.t.interval(0.95, len(NTC) - 1, loc=sum(NTC) / len(NTC), scale=st.sem(NTC))
    assert (ntc.ci_low, ntc.ci_high) == pytest.approx((low, high), abs=1e-9) and ntc.ci_source == "per-fact"
    assert ntc.reference == 1.23 and ntc.reference_source == "000 Table 1"
    assert kmeans.reference is None


def test_prepare_falls_back_to_run_ci_and_comparisons(two_runs):
    rows = _rows(*load_source(two_runs))
    ntc, kmeans = rows[("ntc", "3")], rows[("kmeans", "3")]
    assert (ntc.ci_low, ntc.ci_high, ntc.ci_source) == (1.75, 2.25, "run")
    assert (kmeans.p, kmeans.d, kmeans.test_source) == (0.04, -0.8, "comparisons")
    assert (ntc.p, ntc.d) == (0.04, 0.8)  # the reversed record flips d
    assert ntc.stars == "*"


def test_prepare_keeps_the_latest_run_and_takes_lower_is_better_from_the_task_yaml(tmp_path):
    root = tmp_path / "runs"
    task = "knowledge-editing"  # its YAML declares dPPL lower_is_better
    low, high = [2.9, 3.0, 3.1, 3.0, 2.95], [4.1, 3.9, 4.0, 4.05, 3.95]
    write_run(root, "old", task=task, method="ntc", values={("dPPL", ""): 5.0}, created="2024-01-01T00:00:00")
    write_run(root, "new", task=task, method="ntc", values={("dPPL", ""): 3.0}, created="2024-02-01T00:00:00",
              per_fact={"ntc": {"dPPL": low}})
    # the record's own flag says "higher"; the task YAML decides
    write_run(root, "other", task=task, method="cas", values={("dPPL", ""): 4.0}, per_fact={"cas": {"dPPL": high}})
    rows = _rows(*load_source(root))
    assert rows[("ntc", "")].value == 3.0 and rows[("ntc", "")].direction == "lower_is_better"
    assert rows[("ntc", "")].best and rows[("cas", "")].rank == ""
    assert rows[("cas", "")].versus == "ntc"
    assert rows[("ntc", "")].p == pytest.approx(st.ttest_ind(low, high, equal_var=False).pvalue, abs=1e-12)


def test_winner_not_significantly_ahead_is_a_tie_not_bold(tmp_path):
    root = tmp_path / "runs"
    wide, narrow = [14.77 + x for x in (-120, 150, -90, 100, 33.85)], [10.0, 11.0, 9.5, 10.5, 9.0]
    write_run(root, "amig", task="kn-localization", method="amig", values={("SR", ""): float(np.mean(wide))},
              per_fact={"amig": {"SR": wide}})
    write_run(root, "ig", task="kn-localization", method="ig", values={("SR", ""): float(np.mean(narrow))},
              per_fact={"ig": {"SR": narrow}})
    rows = _rows(*load_source(root))
    amig, ig = rows[("amig", "")], rows[("ig", "")]
    assert amig.value > ig.value and amig.p > 0.05
    assert (amig.rank, ig.rank) == ("tie", "tie") and not amig.best
    build_site(root, tmp_path / "site")
    page = (tmp_path / "site" / "tasks" / "kn-localization.html").read_text()
    assert page.count(">tie</span>") == 2 and "num ours best" not in page


def test_descriptive_metrics_are_never_ranked(tmp_path):
    root = tmp_path / "runs"
    write_run(root, "amig", task="kn-localization", method="amig", values={("mean_kns", ""): 3.0},
              per_fact={"amig": {"mean_kns": [3.0, 3.1, 2.9]}})
    write_run(root, "ig", task="kn-localization", method="ig", values={("mean_kns", ""): 30.0},
              per_fact={"ig": {"mean_kns": [30.0, 31.0, 29.0]}})
    rows = _rows(*load_source(root))
    assert all(r.direction == "none" and r.rank == "" and r.versus == "" for r in rows.values())


def _options_runs(root, methods, tau2_values):
    for method in methods:
        for tau2 in tau2_values:
            shift = 0.0 if method == "ntc" else 1.0
            write_run(root, f"{method}-{tau2}", method=method, options={"tau2": tau2, "steps": 20, "engine": "auto"},
                      values={("GCR", ""): 2.0 + tau2 - shift},
                      per_fact={method: {"GCR": [2.0 + tau2 - shift + e for e in (-0.1, 0.0, 0.1, 0.05)]}})


def test_site_from_two_runs_differing_in_one_option_has_two_separate_comparisons(tmp_path):
    root = tmp_path / "runs"
    _options_runs(root, ["ntc"], [0.3, 0.0])
    data = prepare(*load_source(root))
    configs = data.configurations_for("gcr")
    assert len(configs) == 2 and {dict(c.options)["tau2"] for c in configs} == {0.3, 0.0}
    assert all(r.versus == "" and r.p is None and r.rank == "" for r in data.rows)  # nothing across them
    build_site(root, tmp_path / "site")
    page = (tmp_path / "site" / "tasks" / "gcr.html").read_text()
    assert page.count('<section class="configuration"') == 2
    assert "tau2=0.3" in page and "tau2=0.0" in page and "engine=auto" not in page  # engine is neutral
    index = (tmp_path / "site" / "index.html").read_text()
    assert index.count('<table class="sortable overview"') == 2


def test_methods_are_tested_only_inside_their_configuration(tmp_path):
    root = tmp_path / "runs"
    _options_runs(root, ["ntc", "kmeans"], [0.3, 0.0])
    data = prepare(*load_source(root))
    runs = {str(r.run_dir): r for r in data.runs}
    for row in data.rows:
        rival = next(r for r in data.rows if r.method == row.versus and r.config_id == row.config_id)
        mine, theirs = (runs[x.run_dir].summary["per_fact"][x.method]["GCR"] for x in (row, rival))
        assert row.p == pytest.approx(st.ttest_ind(mine, theirs, equal_var=False).pvalue, abs=1e-12)
    best = [r for r in data.rows if r.best]
    assert sorted(r.method for r in best) == ["ntc", "ntc"] and len({r.config_id for r in best}) == 2


def test_paper_column_uses_the_usual_model_name_and_the_site_shows_no_local_path(tmp_path):
    root = tmp_path / "runs"
    local_data = str(tmp_path / "private" / "pararel")
    write_run(root, "hub", method="ntc", model="openai-community/gpt2", values={("GCR", "2"): 1.5},
              references=REFERENCES, dataset=local_data, options={"mpararel": str(tmp_path / "private" / "mp")})
    write_run(root, "local", method="ntc", model=str(tmp_path / "ckpt" / "my-gpt"), values={("GCR", "2"): 1.0},
              references=REFERENCES)
    rows = prepare(*load_source(root)).rows
    by_model = {r.model: r for r in rows}
    assert by_model["gpt2"].reference == 1.23 and by_model["my-gpt"].reference is None
    build_site(root, tmp_path / "site")
    for page in (tmp_path / "site").rglob("*.html"):
        text = page.read_text()
        assert str(tmp_path) not in text and "/private/" not in text, page
    assert "dataset pararel" in (tmp_path / "site" / "tasks" / "gcr.html").read_text()


def test_undefined_metric_records_say_why(tmp_path):
    root = tmp_path / "runs"
    reason = "denominator's CI contains 0"
    write_run(root, "sr", task="kn-localization", method="amig", values={("SR", ""): None},
              undefined={("SR", ""): reason})
    rows = _rows(*load_source(root))
    assert rows[("amig", "")].undefined == reason
    build_site(root, tmp_path / "site")
    for page in ("index.html", "tasks/kn-localization.html"):
        assert "undefined (denominator&#39;s CI contains 0)" in (tmp_path / "site" / page).read_text()


def test_build_from_runs_and_from_dataset_folder(two_runs, tmp_path):
    index = build_site(two_runs, tmp_path / "site")
    html = index.read_text()
    assert 'href="tasks/gcr.html"' in html and "static/sortable.js" in html
    task_page = (tmp_path / "site" / "tasks" / "gcr.html").read_text()
    assert "000 Table 1" in task_page and "1.23" in task_page and "<img" in task_page
    assert "http://" not in html + task_page and "https://" not in html + task_page  # nothing external
    assert len(list((tmp_path / "site" / "figures").rglob("*.png"))) == 2
    frame, runs = load_source(two_runs)
    dataset = write_results(frame, tmp_path / "dataset", runs=runs)
    build_site(dataset, tmp_path / "site2")
    assert (tmp_path / "site2" / "tasks" / "gcr.html").read_text().count("<img") == 2


def test_cli_build_and_errors(two_runs, tmp_path, capsys):
    assert main(["leaderboard", "build", "--results", str(two_runs), "--output", str(tmp_path / "s")]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["leaderboard", "build", "--results", str(tmp_path / "nope"), "--output", str(tmp_path / "t")]) == 2
    assert "no such folder" in capsys.readouterr().err
    with pytest.raises(DKNBenchError, match="no index.html"):
        make_server(tmp_path)


@pytest.mark.browser
def test_site_in_headless_chromium(two_runs, tmp_path):
    needs(bool(CHROMIUM and CHROMEDRIVER), "Debian's chromium and chromedriver (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    build_site(two_runs, tmp_path / "site")
    tasks = sorted(collect(two_runs)["task"].unique())
    server = make_server(tmp_path / "site", 0, quiet=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,1100"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        wait = WebDriverWait(driver, 20)
        driver.get(f"http://127.0.0.1:{server.server_address[1]}/index.html")
        listed = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "#task-list a")]
        assert listed == tasks

        table = driver.find_element(By.CSS_SELECTOR, "table.overview")
        groups = lambda: [td.text for td in table.find_elements(By.CSS_SELECTOR, "tbody tr td:nth-child(2)")]  # noqa: E731
        assert groups() == ["2", "3", "4"]
        header = next(th for th in table.find_elements(By.TAG_NAME, "th") if th.text.startswith("kmeans"))
        header.click()
        wait.until(lambda _: header.get_attribute("aria-sort") == "ascending")
        assert groups() == ["3", "2", "4"]
        header.click()
        wait.until(lambda _: header.get_attribute("aria-sort") == "descending")
        assert groups() == ["4", "2", "3"]

        def cell(group, method):
            row = next(tr for tr in table.find_elements(By.CSS_SELECTOR, "tbody tr")
                       if tr.find_elements(By.CSS_SELECTOR, "td")[1].text == group)
            return row.find_element(By.CSS_SELECTOR, f"td[data-method='{method}']")

        weight = lambda element: int(element.value_of_css_property("font-weight"))  # noqa: E731
        # the bold rule: ntc beats kmeans significantly at cardinality 2 (Welch on per-fact values) ...
        assert weight(cell("2", "ntc")) >= 700 and weight(cell("2", "kmeans")) < 700
        # ... but at 4 its lead is not significant: neither is bold, both say "tie"
        for method in ("ntc", "kmeans"):
            assert weight(cell("4", method)) < 700 and cell("4", method).text.endswith("tie")
        assert "tie" not in cell("2", "ntc").text

        artifacts = REPO / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        driver.save_screenshot(str(artifacts / "leaderboard-index.png"))

        driver.find_element(By.CSS_SELECTOR, "#task-list a[href='tasks/gcr.html']").click()
        wait.until(ec.title_contains("gcr"))
        images = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".figures img"))
        assert len(images) == 2
        for image in images:
            wait.until(lambda d, im=image: d.execute_script("return arguments[0].complete", im))
            assert driver.execute_script("return arguments[0].naturalWidth", image) > 0
        assert "000 Table 1" in driver.page_source
        # the paper column: the reference stands in the row of the same model/method/metric/group
        paper = lambda method, group: driver.find_element(  # noqa: E731
            By.CSS_SELECTOR, f"tr[data-method='{method}'][data-metric='GCR'][data-group='{group}'] td.paper").text
        assert paper("ntc", "2") == "1.23"
        assert paper("kmeans", "2") == "—" and paper("ntc", "3") == "—"
        ours = driver.find_element(By.CSS_SELECTOR, "tr[data-method='ntc'][data-group='2'] td.ours")
        assert weight(ours) >= 700
        assert driver.save_screenshot(str(artifacts / "leaderboard.png"))
    finally:
        driver.quit()
        server.shutdown()
        server.server_close()


def test_prepare_pairs_methods_on_their_common_facts(tmp_path):
    """Per-fact values with fact ids: the winner is tested with a paired t-test on the facts both
    methods have (issue 26.2), not with Welch's on two different fact sets."""
    root = tmp_path / "runs"
    amig = {"f1": 0.9, "f2": 0.7, "f3": 0.8, "f4": 0.95, "f5": 5.0}  # f5: only amig has it
    ig = {"f1": 0.5, "f2": 0.45, "f3": 0.6, "f4": 0.7, "f6": -3.0}
    write_run(root, "amig", task="kn-localization", method="amig", values={("rel_minus_irr", ""): 0.84},
              per_fact={"amig": {"rel_minus_irr": amig}})
    write_run(root, "ig", task="kn-localization", method="ig", values={("rel_minus_irr", ""): 0.56},
              per_fact={"ig": {"rel_minus_irr": ig}})
    rows = _rows(*load_source(root))
    winner, other = rows[("amig", "")], rows[("ig", "")]
    common = ["f1", "f2", "f3", "f4"]
    paired = st.ttest_rel([amig[f] for f in common], [ig[f] for f in common])
    assert winner.p == pytest.approx(paired.pvalue, abs=1e-12) and winner.n_test == 4
    assert winner.test_source == "per-fact, paired" and winner.best
    welch = st.ttest_ind(list(amig.values()), list(ig.values()), equal_var=False)
    assert welch.pvalue > 0.05  # unpaired on all values it would not even be significant
    assert other.versus == "amig" and other.n_test == 4


def test_prepare_keeps_a_clipped_run_ci(tmp_path):
    from dknbench.stats import CI_T_CLIPPED

    root = tmp_path / "runs"
    run = write_run(root, "amig", task="kn-localization", method="amig", values={("mean_kns", ""): 2.0},
                    per_fact={"amig": {"mean_kns": [0.0, 0.0, 6.0]}})
    summary_path = run / "summary.json"
    import json

    summary = json.loads(summary_path.read_text())
    summary["metrics"][0].update(ci_low=0.0, ci_high=9.45, ci_method=CI_T_CLIPPED)
    summary_path.write_text(json.dumps(summary))
    row = _rows(*load_source(root))[("amig", "")]
    assert (row.ci_low, row.ci_high, row.ci_source) == (0.0, 9.45, "run")  # not the t interval below 0
