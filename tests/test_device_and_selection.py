"""--device cuda without CUDA is a one-line exit-2 error; load_facts(limit, seed) picks the run's facts."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from dknbench.cli import main
from dknbench.data.loading import load_facts
from dknbench.harness import runner


def test_cuda_without_cuda_is_a_one_line_error_before_anything_is_written(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # a CPU-only torch, also on a GPU box
    output = tmp_path / "run"
    code = main(["run", "--task", "kn-localization", "--method", "ig", "--model", "tiny-gpt2",
                 "--limit", "1", "--device", "cuda", "--output", str(output), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and not output.exists()
    assert len(err.splitlines()) == 1 and "--device 'cuda'" in err and "--device cpu" in err
    assert "Traceback" not in err and "AssertionError" not in err


def test_a_malformed_device_is_a_one_line_error(tmp_path, capsys):
    assert main(["run", "--task", "kn-localization", "--method", "ig", "--model", "tiny-gpt2",
                 "--device", "gpu0", "--output", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'gpu0'" in err and "cuda:N" in err


class Chosen(Exception):
    pass


@pytest.mark.parametrize("limit,seed", [(5, 42), (3, 7)])
def test_load_facts_picks_the_facts_run_picks(limit, seed, tmp_path, monkeypatch):
    import dknbench.data.loading
    import dknbench.models

    picked = []

    def capture(spec, lm, facts, output):
        picked.extend(f.id for f in facts)
        raise Chosen  # the facts are chosen: no model work needed

    monkeypatch.setattr(dknbench.models, "load_model", lambda *a, **k: SimpleNamespace(tokenizer=None))
    monkeypatch.setattr(dknbench.data.loading, "check_answers", lambda *a: None)  # needs a real tokenizer
    monkeypatch.setattr(runner, "record_model", lambda *a: None)
    monkeypatch.setattr(runner, "build_task", capture)
    with pytest.raises(Chosen):
        runner.run(runner.RunSpec(task="kn-localization", methods=["ig"], model="tiny-gpt2", dataset="builtin",
                                  limit=limit, seed=seed, output=str(tmp_path / "run"), quiet=True))
    # the task sees the whole set in the seeded order; --limit then takes the first facts that meet
    # its requirements, so with none passed over they are load_facts' first `limit`
    assert len(picked) == len(load_facts("builtin"))
    assert [f.id for f in load_facts("builtin", limit=limit, seed=seed)] == picked[:limit]
    assert [f.id for f in load_facts("builtin", limit=limit, seed=seed + 1)] != picked[:limit]
