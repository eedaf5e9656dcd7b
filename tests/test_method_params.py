"""Methods built from their own signature: every hyper-parameter of every registered localizer and
DKN method is settable from a task's options and --set, reaches the built object, is checked against
its class's declaration, is recorded in the summary and listed by `dknbench list methods --verbose`."""

from __future__ import annotations

import inspect
import json
import re

import pytest

from dknbench.cli import main
from dknbench.errors import ConfigError
from dknbench.harness.spec import RunSpec, resolve
from dknbench.hyperparams import constructor_defaults, declared, option_name
from dknbench.tasks.methods import KINDS, build_method, registry, run_methods

TASK_OF_KIND = {"localizer": "kn-localization", "dkn": "gcr"}


def _members():
    return [(kind, name) for kind in KINDS for name in registry(kind).names()]


def _other_value(cls, param: str, default):
    """A value of ``param`` other than its default that the class's declaration allows."""
    spec = declared(cls).get(param)
    if spec is not None and spec.choices:
        return next(c for c in spec.choices if c != default)
    if isinstance(default, str) or (default is None and spec is None):
        return "amig" if default != "amig" else "ig"  # the undeclared strings name a localizer
    low = 0 if spec is None or spec.low is None else spec.low
    if (spec is not None and spec.integer) or isinstance(default, int) and not isinstance(default, bool):
        return (default if isinstance(default, int) else int(low)) + 1
    high = low + 2.0 if spec is None or spec.high is None else spec.high
    value = (low + high) / 2
    return value if value != default else (low + value) / 2


def _set_text(value) -> str:
    return str(value)


@pytest.mark.parametrize("kind, name", _members())
def test_every_constructor_parameter_is_settable_and_reaches_the_method(kind, name):
    cls = registry(kind).get(name)
    params = constructor_defaults(cls)
    assert params, f"{name} has no hyper-parameter"
    for param, default in params.items():
        assert default is not inspect.Parameter.empty, f"{name}.{param} has no default"
        value = _other_value(cls, param, default)
        for key in (f"{name}.{param}", option_name(cls, param)):
            spec = RunSpec(task=TASK_OF_KIND[kind], methods=[name], overrides=[f"{key}={_set_text(value)}"])
            options = resolve(spec).options
            built = build_method(kind, name, options, spec.seed)
            assert getattr(built, param) == value, (name, key)
            assert built.get_params()[param] == value


def test_a_value_outside_the_declaration_is_one_error_naming_the_option(capsys):
    assert main(["run", "--task", "kn-localization", "--method", "atp", "--set", "direction=sideways"]) == 2
    err = capsys.readouterr().err
    assert "--set direction" in err and "'sideways'" in err and "restore, corrupt" in err
    with pytest.raises(ConfigError, match="--set causal-tracing.noise_samples: 0 is out of range"):
        resolve(RunSpec(task="kn-localization", methods=["causal-tracing"],
                        overrides=["causal-tracing.noise_samples=0"]))
    with pytest.raises(ConfigError, match="unknown option .* and no registered method's parameter"):
        resolve(RunSpec(task="kn-localization", methods=["atp"], overrides=["directoin=corrupt"]))


def test_shared_names_reach_every_method_and_the_namespaced_key_one():
    options = resolve(RunSpec(task="kn-localization", methods=["atp", "random"], seed=7)).options
    built = run_methods("localizer", ["atp", "random"], options, 7)
    assert built["atp"][1].seed == built["random"][1].seed == 7  # the run's --seed, by default
    assert built["amig"][1].norm == "abs"  # random's reference (random_match), from amig_norm
    options = resolve(RunSpec(task="kn-localization", methods=["atp", "random"],
                              overrides=["seed=3", "atp.seed=5"])).options
    built = run_methods("localizer", ["atp", "random"], options, 7)
    assert built["atp"][1].seed == 5 and built["random"][1].seed == 3
    # a task option that is also a method's parameter: positions reaches causal-tracing
    options = resolve(RunSpec(task="kn-localization", methods=["causal-tracing"], overrides=["positions=all"])).options
    assert build_method("localizer", "causal-tracing", options).positions == "all"
    # the task's tau2 (NTC's filter) does not reach amig-pairs, whose filter is off by default
    options = resolve(RunSpec(task="gcr", methods=["ntc", "amig-pairs"], overrides=["tau2=0.1"])).options
    assert build_method("dkn", "ntc", options).tau2 == 0.1
    assert build_method("dkn", "amig-pairs", options).tau2 is None


def test_list_methods_verbose_shows_every_parameter_with_its_default(capsys):
    assert main(["list", "methods", "--verbose"]) == 0
    out = capsys.readouterr().out
    blocks = {}
    for line in out.splitlines():
        if line and not line.startswith(" ") and "[" in line:
            current = blocks.setdefault(line.split()[0], [])
        elif line.startswith("    "):
            current.append(line.strip())
    assert set(blocks) == {name for _, name in _members()}
    for kind, name in _members():
        cls = registry(kind).get(name)
        shown = {line.split(" = ")[0]: line for line in blocks[name]}
        assert list(shown) == list(constructor_defaults(cls)), name
        for param, default in constructor_defaults(cls).items():
            assert shown[param].startswith(f"{param} = {default!r}"), shown[param]
    assert "direction = 'restore'  (one of restore, corrupt" in out
    assert "noise_samples = 10  (an integer >= 1" in out
    assert "positions = 'target'  (one of target, all" in out


def _kns(out):
    rows = [row for p in sorted((out / "facts").glob("*.json")) for row in json.loads(p.read_text())["rows"]]
    return {r["fact_id"]: r["kns"] for r in rows}


@pytest.mark.parametrize("method, setting", [("atp", "direction=corrupt"), ("causal-tracing", "noise_samples=3")])
def test_set_changes_the_neurons_found_and_the_summary_records_it(tmp_path, isolated_cache, method, setting):
    runs = {}
    for label, extra in (("default", []), ("set", ["--set", setting])):
        out = tmp_path / label
        assert main(["run", "--task", "kn-localization", "--method", method, "--model", "tiny-gpt2",
                     "--limit", "3", "--output", str(out), "--set", "max_queries=1", "--set", "known_only=false",
                     "--quiet", *extra]) == 0
        runs[label] = out
    default, changed = _kns(runs["default"]), _kns(runs["set"])
    assert default.keys() == changed.keys() and default
    assert any(default[f] != changed[f] for f in default), "the setting did not change any fact's KNs"
    key, _, value = setting.partition("=")
    for label, expected in (("default", {"direction": "restore", "noise_samples": 10}[key]), ("set", value)):
        summary = json.loads((runs[label] / "summary.json").read_text())
        assert str(summary["config"]["method_params"][method][key]) == str(expected)
    # the leaderboard shows, per configuration, which convention each method ran with
    assert main(["leaderboard", "build", "--results", str(tmp_path), "--output", str(tmp_path / "site")]) == 0
    page = (tmp_path / "site" / "tasks" / "kn-localization.html").read_text()
    shown = re.findall(rf'data-method="{method}"><code>{method}</code>: ([^<]*)</p>', page)
    assert sorted(re.search(rf"\b{key}=(\S+)", line).group(1) for line in shown) == \
        sorted([str({"direction": "restore", "noise_samples": 10}[key]), value])


def test_a_namespaced_option_in_a_task_yaml_must_name_a_method_parameter(tmp_path):
    from dknbench.tasks import load_task_config

    text = ("task: t\nclass: kn-localization\ndescription: d\nmethod_kind: localizer\n"
            "options: {{max_queries: 1, positions: target, outlier_limit: 9.0, {extra}}}\n")
    (tmp_path / "good.yaml").write_text(text.format(extra="atp.direction: corrupt"))
    options = load_task_config(tmp_path / "good.yaml").resolve_options()
    assert build_method("localizer", "atp", options).direction == "corrupt"
    (tmp_path / "bad.yaml").write_text(text.format(extra="atp.directoin: corrupt"))
    with pytest.raises(ConfigError, match="bad.yaml: option atp.directoin: no registered method has this parameter"):
        load_task_config(tmp_path / "bad.yaml").resolve_options()
