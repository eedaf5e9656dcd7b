"""A user's localizer in a .py beside the task YAML (no package edit), and method variants
(``atp[direction=corrupt]``): both reach the run through --method / the YAML and --set."""

from __future__ import annotations

import json
import textwrap

import pytest

from dknbench.cli import main as cli

USER_LOCALIZER = '''
import numpy as np

from dknbench.hyperparams import Param
from dknbench.localization import LOCALIZERS, Localizer


@LOCALIZERS.register("layer-pick", description="every neuron of one layer, scored by its index")
class LayerPick(Localizer):
    """A localizer with a hyper-parameter no packaged localizer has: ``layer``."""

    uses_gradients = False
    hyperparameters = {"layer": Param(low=0, integer=True, help="the layer whose neurons are KNs")}

    def __init__(self, tau: float = 0.2, steps: int = 20, layer: int = 0):
        super().__init__(tau=tau, steps=steps)
        self.layer = layer

    def params(self):
        return {"layer": self.layer}

    def scores(self, engine, encoded, subject=None):
        adapter = engine.lm.adapter
        out = np.zeros((adapter.n_layers, adapter.n_neurons), dtype=np.float32)
        out[self.layer] = np.arange(1, adapter.n_neurons + 1)
        return out
'''

# the bundled kn-localization class, run on the user's localizer: the YAML names it by its file
USER_YAML = """
task: pick-kns
class: kn-localization
description: KNs of a user's localizer
method_kind: localizer
default_method: mine.py:LayerPick
options: {max_queries: 1, positions: target, known_only: false, known_min_prob: 0.3, outlier_limit: 9.0,
          random_match: ig, amig_norm: abs, steps: 2, tau: 0.2, refine_p: 0.5, prob_mode: first, engine: auto}
"""


@pytest.fixture
def user_folder(tmp_path, monkeypatch):
    from dknbench.localization import LOCALIZERS

    LOCALIZERS.discover()
    # the user's class registers into the process-wide registry: undo it after the test
    monkeypatch.setattr(LOCALIZERS, "_entries", dict(LOCALIZERS._entries))
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "mine.py").write_text(USER_LOCALIZER)
    (folder / "pick-kns.yaml").write_text(USER_YAML)
    return folder


def fact_rows(out) -> list[dict]:
    rows = []
    for path in sorted((out / "facts").glob("*.json")):
        found = json.loads(path.read_text())
        rows += found["rows"] if isinstance(found, dict) else found
    return rows


def one_line_error(capsys, code: int, *words: str) -> str:
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("dknbench: error: "), err
    for word in words:
        assert word in err, err
    return err


def test_a_user_localizer_beside_the_yaml_takes_its_new_parameter_from_set(user_folder, tmp_path, capsys,
                                                                           isolated_cache):
    out = tmp_path / "run"
    code = cli(["run", "--task", "pick-kns", "--model", "tiny-gpt2", "--limit", "2", "--quiet",
                "--include-path", str(user_folder), "--output", str(out), "--set", "layer=1",
                "--method", "mine.py:LayerPick,mine.py:LayerPick[layer=0]"])
    assert code == 0, capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    # the reference is replaced by the name the class registers itself under; the variant keeps it
    assert summary["methods"] == ["layer-pick", "layer-pick[layer=0]"]
    params = summary["config"]["method_params"]
    assert params["layer-pick"]["layer"] == 1 and params["layer-pick[layer=0]"]["layer"] == 0
    rows = fact_rows(out)
    by_method = {m: [r for r in rows if r["method"] == m] for m in summary["methods"]}
    assert all(len(found) == 2 for found in by_method.values())
    # --set layer=1 reached the localizer: every KN lies in layer 1; the variant's own layer=0 wins
    for method, layer in (("layer-pick", 1), ("layer-pick[layer=0]", 0)):
        for row in by_method[method]:
            assert row["kns"] and {neuron[0] for neuron in row["kns"]} == {layer}, (method, row["kns"])


@pytest.mark.parametrize("method,words", [
    ("nope.py:LayerPick", ["pick-kns.yaml: method 'nope.py:LayerPick': nope.py not found next to pick-kns.yaml"]),
    ("mine.py:Nope", ["'Nope' is not a dknbench Localizer subclass in mine.py",
                      "Localizer subclasses there: LayerPick"]),
    ("no_such_package.module:Thing", ["cannot import 'no_such_package.module'"]),
    ("mine.py", ["method 'mine.py': expected file.py:Class (beside the YAML) or package.module:Class"]),
    ("mine.py:LayerPick[layr=2]", ["layer-pick has no parameter 'layr' (did you mean 'layer'?)",
                                   "its parameters: tau, steps, layer"]),
])
def test_a_bad_user_method_is_one_line(user_folder, tmp_path, capsys, method, words):
    code = cli(["run", "--task", "pick-kns", "--model", "tiny-gpt2", "--include-path", str(user_folder),
                "--output", str(tmp_path / "run"), "--method", method])
    one_line_error(capsys, code, *words)
    assert not (tmp_path / "run").exists()


def test_a_localizer_option_may_name_a_user_class(user_folder, tmp_path):
    """A DKN task's ``localizer:`` takes the same reference, and --set reaches its parameter."""
    from dknbench.harness.spec import RunSpec, resolve

    (user_folder / "gcr-mine.yaml").write_text(textwrap.dedent("""\
        task: gcr-mine
        class: gcr
        description: gcr on a user's localizer
        method_kind: dkn
        default_method: ntc
        options: {localizer: mine.py:LayerPick}
    """))
    spec = RunSpec(task="gcr-mine", include_paths=[str(user_folder)], overrides=["layer-pick.layer=2"],
                   output=str(tmp_path / "run"))
    resolved = resolve(spec)
    methods, options = resolved.methods, resolved.options
    assert options["localizer"] == "layer-pick" and options["layer-pick.layer"] == 2
    from dknbench.tasks.methods import method_params

    assert method_params("dkn", methods, options)["layer-pick"]["layer"] == 2


def test_atp_in_both_directions_in_one_run(tmp_path, capsys, isolated_cache, tiny):
    out = tmp_path / "run"
    code = cli(["run", "--task", "kn-localization", "--model", "tiny-llama", "--limit", "3", "--quiet",
                "--method", "atp,atp[direction=corrupt]", "--set", "known_only=false", "--set", "tau=0.05",
                "--output", str(out)])
    assert code == 0, capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["methods"] == ["atp", "atp[direction=corrupt]"]
    params = summary["config"]["method_params"]
    assert params["atp"]["direction"] == "restore" and params["atp[direction=corrupt]"]["direction"] == "corrupt"
    assert {r["method"] for r in summary["metrics"]} == {"atp", "atp[direction=corrupt]"}
    kns = {}
    for row in fact_rows(out):
        kns.setdefault(row["fact_id"], {})[row["method"]] = {tuple(n) for n in row["kns"]}
    assert len(kns) == 3 and all(len(by) == 2 for by in kns.values())
    # each label ran its own direction: the run's KNs are those of AttributionPatching built directly
    from dknbench.data.loading import load_facts
    from dknbench.localization import AttributionCache, KNLocator
    from dknbench.localization.atp import AttributionPatching

    facts = {f.id: f for f in load_facts("builtin")}
    fact_id = sorted(kns)[0]
    for label, direction in (("atp", "restore"), ("atp[direction=corrupt]", "corrupt")):
        locator = KNLocator(tiny("llama"), AttributionPatching(tau=0.05, seed=42, direction=direction),
                            cache=AttributionCache(tmp_path / f"cache-{direction}"))
        assert {tuple(n) for n in locator.localize(facts[fact_id], 3).kns} == kns[fact_id][label]
    # and the two directions are two localizers: their KNs differ (on the tiny model, on some facts)
    assert any(by["atp"] != by["atp[direction=corrupt]"] for by in kns.values()), kns


@pytest.mark.parametrize("method,words", [
    ("atp[dirction=corrupt]", ["--method 'atp[dirction=corrupt]': atp has no parameter 'dirction' "
                               "(did you mean 'direction'?); its parameters: tau, steps, seed, noise, direction"]),
    ("atp[direction=sideways]", ["atp[direction=sideways] parameter direction: 'sideways' is not allowed; "
                                 "one of restore, corrupt"]),
    ("atp[direction]", ["--method 'atp[direction]': 'direction' is not PARAM=VALUE"]),
    ("atp[steps=many]", ["--method 'atp[steps=many]': steps: 'many' is not a valid int"]),
    ("atpp[direction=corrupt]", ["unknown localizer method (task 'kn-localization' benchmarks localizer "
                                 "methods) 'atpp' (did you mean 'atp'?)"]),
    ("atp,atp[direction=restore],atp[ direction = restore ]", ["--method lists atp[direction=restore] more than once"]),
])
def test_a_bad_variant_is_one_line_with_exit_2(method, words, tmp_path, capsys):
    code = cli(["run", "--task", "kn-localization", "--model", "tiny-gpt2", "--method", method,
                "--output", str(tmp_path / "run")])
    one_line_error(capsys, code, *words)
    assert not (tmp_path / "run").exists()


def test_a_variant_label_becomes_a_safe_path_name():
    from dknbench.harness.spec import RunSpec, resolve
    from dknbench.paths import SAFE_NAME, slug

    assert slug("atp[direction=corrupt]") == "atp-direction-corrupt" and SAFE_NAME.match(slug("atp[noise=0.5,seed=1]"))
    output = resolve(RunSpec(task="kn-localization", methods=["atp", "atp[direction=corrupt]"])).output
    assert output.parts[-1].startswith("atp-atp-direction-corrupt-seed42-")
