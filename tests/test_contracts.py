"""Contracts over the registries (issue 28.4): every registered member keeps its registry's
contract, and tests/ is parametrized over the registries, not over hand-written lists of members,
so a new localizer, DKN method, task or tiny model is tested by being registered."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import ALL_FAMILIES, DKN_METHODS, LOCALIZERS, REFUSED_FAMILIES
from dknbench.dkn import DKNMethod
from dknbench.localization import Localizer
from dknbench.tasks import discover_tasks
from dknbench.tasks.methods import registry

TESTS = Path(__file__).resolve().parent
TASKS = discover_tasks()


@pytest.mark.parametrize("registry_, base", [(LOCALIZERS, Localizer), (DKN_METHODS, DKNMethod)],
                         ids=["localizers", "dkn-methods"])
def test_every_registered_method_is_its_base_class(registry_, base):
    assert registry_.names()
    for name in registry_.names():
        assert issubclass(registry_.get(name), base), name


@pytest.mark.parametrize("task", sorted(TASKS))
def test_every_indexed_task_names_a_registered_default_method_of_its_kind(task):
    config = TASKS[task]
    assert config.default_method in registry(config.method_kind), (
        f"{task}: default_method {config.default_method!r} is not a registered {config.method_kind} method")


# Lists that stay by name, each for the reason given: they are about those members (a paper's own
# table, labels of synthetic rows), not a stand-in for "every member". Keyed by file and names, so
# a moved line keeps its entry and a changed list is looked at again.
ABOUT_NAMED_MEMBERS = {
    # synthetic summary rows: method names as labels of made-up numbers; "random" is the floor
    ("test_kn_localization.py", frozenset({"grad-x-act", "amig", "random"})),
    # the DKN paper's own Table: run_paper runs exactly these on gcr; a made-up claim among three
    ("test_reproduce.py", frozenset({"ntc", "kmeans", "dbscan", "hierarchical", "amig-pairs"})),
    ("test_reproduce.py", frozenset({"ntc", "kmeans", "dbscan"})),
    # a sample of localizers whose code paths differ by family (the IG engine path, subject-noised
    # patching) run by the CLI; every localizer on each kind of family is test_localization's
    ("test_families.py", frozenset({"ig", "atp", "causal-tracing"})),
    # the options each clustering baseline needs to see the planted groups (a new one runs with its defaults)
    ("test_dkn_gcr.py", frozenset({"kmeans", "dbscan", "hierarchical"})),
    # discovery itself: the members it must find are named without asking the registry it tests
    ("test_registry.py", frozenset({"ig", "amig", "atp", "cas", "random"})),
    ("test_registry.py", frozenset({"ntc", "kmeans", "amig-pairs"})),
    ("test_registry.py", frozenset({"gcr", "kn-localization", "fact-checking"})),
    # issue 30.4 names the cross-model runs' methods: the test checks the plan is those runs
    ("test_cross_model.py", frozenset({"atp", "causal-tracing", "grad-x-act", "random"})),
    ("test_cross_model.py", frozenset({"amig-pairs", "dbscan", "hierarchical"})),
    # a cheap sample of localizers for the tiny runs the table script reads (every localizer: test_localization)
    ("test_localizer_table.py", frozenset({"atp", "grad-x-act", "random"})),
    # the neurons' values written by hand from each family's own module names
    ("test_models.py", frozenset({"gpt2", "llama", "gpt_neox", "bert"})),
}


def _registries() -> dict[str, set[str]]:
    return {"localizer": set(LOCALIZERS.names()), "DKN method": set(DKN_METHODS.names()),
            "task": set(TASKS), "tiny model": set(ALL_FAMILIES) | set(REFUSED_FAMILIES)}


def _named_lists(path: Path):
    """(line, kind, names) of each list, tuple or set literal, or comma-joined string, in ``path``
    that names 3 or more members of one registry."""
    registries = _registries()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            values = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
        elif isinstance(node, ast.Dict):
            values = [k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "," in node.value:
            values = node.value.split(",")
        else:
            continue
        for kind, members in registries.items():
            named = frozenset(v for v in values if v in members)
            if len(named) >= 3:
                yield node.lineno, kind, named


def test_the_scan_finds_a_hand_list(tmp_path):
    """The check below can fail: a hand-written list of three localizers is found."""
    names = LOCALIZERS.names()[:3]
    probe = tmp_path / "test_probe.py"
    probe.write_text(f"METHODS = {names!r}\nJOINED = {','.join(names)!r}\n")
    assert [(line, kind) for line, kind, _ in _named_lists(probe)] == [(1, "localizer"), (2, "localizer")]


def test_no_hand_written_list_of_registry_members_in_tests():
    found = [f"{path.name}:{line}: {len(named)} {kind} names {sorted(named)}"
             for path in sorted(TESTS.glob("*.py")) if path.name != Path(__file__).name
             for line, kind, named in _named_lists(path)
             if (path.name, named) not in ABOUT_NAMED_MEMBERS]
    assert not found, ("parametrize over the registry (LOCALIZERS, DKN_METHODS, discover_tasks(), "
                       "conftest's ALL_FAMILIES / FAMILY_KINDS) instead of:\n" + "\n".join(found))
