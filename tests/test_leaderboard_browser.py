"""The leaderboard: significance/CI bookkeeping (plain tests) and the built site in headless
chromium (marked `browser`; skipped only when chromium or chromedriver is not installed)."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from scipy import stats as st

from dknbench.cli import main
from dknbench.errors import DKNBenchError
from dknbench.leaderboard import build_site, make_server, prepare
from dknbench.results import collect, load_source, write_results
from conftest import needs
from test_results_store import write_run  # tests/ is on sys.path (pytest rootdir-relative import)

REPO = Path(__file__).resolve().parents[1]
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
NTC = [1.2, 1.4, 1.9, 1.5, 1.6]
KMEANS = [0.4, 0.6, 0.5, 0.5, 0.9]
REFERENCES = [{"source": "000 Table 1", "model": "gpt2", "method": "ntc", "metric": "GCR", "group": "2", "value": 1.23}]


@pytest.fixture
def two_runs(tmp_path):
    """Two methods on the same task. Overview rows start as group 2, 3; sorting by kmeans
    ascending puts group 3 (0.2) before group 2 (0.9)."""
    root = tmp_path / "runs"
    write_run(root, "gcr-ntc", method="ntc", values={("GCR", "2"): 1.5, ("GCR", "3"): 2.0},
              per_fact={"ntc": {"GCR@2": NTC}}, references=REFERENCES, created="2024-05-01T10:00:00")
    write_run(root, "gcr-kmeans", method="kmeans", values={("GCR", "2"): 0.9, ("GCR", "3"): 0.2},
              per_fact={"kmeans": {"GCR@2": KMEANS}}, references=REFERENCES, created="2024-05-01T11:00:00",
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


def test_prepare_keeps_the_latest_run_and_handles_lower_is_better(tmp_path):
    root = tmp_path / "runs"
    write_run(root, "old", method="ntc", values={("dPPL", ""): 5.0}, created="2024-01-01T00:00:00",
              higher_is_better=False)
    write_run(root, "new", method="ntc", values={("dPPL", ""): 3.0}, created="2024-02-01T00:00:00",
              higher_is_better=False)
    write_run(root, "other", method="cas", values={("dPPL", ""): 4.0}, higher_is_better=False)
    rows = _rows(*load_source(root))
    assert rows[("ntc", "")].value == 3.0 and rows[("ntc", "")].best
    assert rows[("cas", "")].versus == "ntc" and rows[("cas", "")].p is None
    assert rows[("cas", "")].stars == ""


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

        table = driver.find_element(By.ID, "overview-1")
        groups = lambda: [td.text for td in table.find_elements(By.CSS_SELECTOR, "tbody tr td:nth-child(3)")]  # noqa: E731
        assert groups() == ["2", "3"]
        header = next(th for th in table.find_elements(By.TAG_NAME, "th") if th.text.startswith("kmeans"))
        header.click()
        wait.until(lambda _: header.get_attribute("aria-sort") == "ascending")
        assert groups() == ["3", "2"]
        header.click()
        wait.until(lambda _: header.get_attribute("aria-sort") == "descending")
        assert groups() == ["2", "3"]

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
        assert driver.save_screenshot(str(artifacts / "leaderboard.png"))
    finally:
        driver.quit()
        server.shutdown()
        server.server_close()
