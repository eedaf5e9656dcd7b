"""One discovery mechanism: every registry finds its members by importing its package's modules,
the name is written once (the decorator), the base class is checked, an unknown name suggests."""

from __future__ import annotations

import sys
import textwrap

import pytest

from dknbench.errors import DKNBenchError, UnknownNameError
from dknbench.registry import Registry


class Base:
    name = "base"


@pytest.fixture
def plugin_package(tmp_path, monkeypatch):
    """A package ``regpkg`` whose modules register members in ``regpkg._registry.THINGS``."""
    package = tmp_path / "regpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "_registry.py").write_text(textwrap.dedent("""\
        from dknbench.registry import Registry
        from test_registry import Base
        THINGS = Registry("thing", base=Base, package="regpkg", name_attribute="name")
    """))
    (package / "alpha.py").write_text(textwrap.dedent("""\
        from regpkg._registry import THINGS
        from test_registry import Base

        @THINGS.register("alpha-thing", description="the alpha", version="2")
        class Alpha(Base):
            pass
    """))
    (package / "beta.py").write_text(textwrap.dedent("""\
        from regpkg._registry import THINGS
        from test_registry import Base

        @THINGS.register("beta-thing")
        class Beta(Base):
            '''The beta thing.'''
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield package
    for name in [m for m in sys.modules if m == "regpkg" or m.startswith("regpkg.")]:
        del sys.modules[name]


def test_members_are_found_by_importing_the_package_on_first_lookup(plugin_package):
    from regpkg._registry import THINGS

    assert "regpkg.alpha" not in sys.modules  # importing the registry imports no member
    assert THINGS.names() == ["alpha-thing", "beta-thing"]
    alpha = THINGS.entry("alpha-thing")
    assert alpha.description == "the alpha" and alpha.metadata == {"version": "2"}
    assert THINGS.entry("beta-thing").description == "The beta thing."
    # the name is written once, at the decorator; the class receives it
    assert THINGS.get("alpha-thing").name == "alpha-thing" and THINGS.get("beta-thing").name == "beta-thing"


def test_a_member_outside_the_base_class_or_registered_twice_is_refused():
    things = Registry("thing", base=Base)
    with pytest.raises(DKNBenchError, match=r"thing 'x': .*Other is not a subclass of .*Base"):
        @things.register("x")
        class Other:
            pass

    @things.register("x")
    class One(Base):
        pass

    things.add("x", One)  # the same class again (a module imported twice) is fine
    with pytest.raises(DKNBenchError, match="'x' is registered twice"):
        @things.register("x")
        class Two(Base):
            pass


@pytest.mark.parametrize("registry", ["dknbench.localization:LOCALIZERS", "dknbench.dkn:DKN_METHODS",
                                      "dknbench.tasks.base:TASK_CLASSES"])
def test_the_package_registries_refuse_a_class_outside_their_base(registry):
    import importlib

    module, _, attr = registry.partition(":")
    found = getattr(importlib.import_module(module), attr)

    class NotAMember:
        pass

    with pytest.raises(DKNBenchError, match=f"is not a subclass of .*{found.base.__name__}"):
        found.add("not-a-member", NotAMember)
    assert "not-a-member" not in found


def test_a_function_registry_checks_its_members():
    from data_builders import BUILDERS

    with pytest.raises(DKNBenchError, match=r"takes \(path\); a builder takes \(source, seed=42"):
        BUILDERS.add("bad-builder", lambda path: path)
    assert "bad-builder" not in BUILDERS


@pytest.mark.parametrize("registry,members", [
    ("dknbench.localization:LOCALIZERS", {"ig", "amig", "atp", "cas", "random"}),
    ("dknbench.dkn:DKN_METHODS", {"ntc", "kmeans", "amig-pairs"}),
    ("dknbench.tasks.base:TASK_CLASSES", {"gcr", "kn-localization", "fact-checking"}),
    ("data_builders:BUILDERS", {"pararel", "templama", "wikitext"}),
])
def test_every_package_registry_discovers_its_members(registry, members):
    import importlib

    module, _, attr = registry.partition(":")
    found = getattr(importlib.import_module(module), attr)
    assert found.package and members <= set(found.names())
    for entry in found.entries():  # each member registered itself: the decorator ran on import
        assert entry.target.__module__.startswith(found.package + ".")
        if found.base is not None:
            assert issubclass(entry.target, found.base)


def test_no_member_states_its_name_twice():
    """The registered name is the decorator's; no class of a registry repeats it as ``name =``."""
    from dknbench.dkn import DKN_METHODS
    from dknbench.localization import LOCALIZERS

    for registry in (LOCALIZERS, DKN_METHODS):
        for entry in registry.entries():
            assert "name" not in vars(entry.target) or entry.target.name == entry.name
            source = sys.modules[entry.target.__module__].__file__
            text = open(source, encoding="utf-8").read()
            assert f'    name = "{entry.name}"' not in text, source


def test_an_unknown_name_suggests_the_closest():
    from dknbench.localization import LOCALIZERS

    with pytest.raises(UnknownNameError) as caught:
        LOCALIZERS.get("amg")
    assert "unknown localizer 'amg' (did you mean 'amig'?); available: amig, atp," in str(caught.value)
    assert caught.value.closest == "amig"
    with pytest.raises(UnknownNameError) as caught:
        LOCALIZERS.get("zzzzzz")
    assert "did you mean" not in str(caught.value)


@pytest.mark.parametrize("argv,words", [
    (["run", "--task", "kn-localization", "--method", "amg", "--model", "tiny-gpt2"],
     "unknown localizer method (task 'kn-localization' benchmarks localizer methods) 'amg' (did you mean 'amig'?)"),
    (["run", "--task", "gcr", "--method", "ntcc", "--model", "tiny-gpt2"], "(did you mean 'ntc'?)"),
    (["run", "--task", "kn-localisation", "--method", "ig", "--model", "tiny-gpt2"],
     "unknown task 'kn-localisation' (did you mean 'kn-localization'?)"),
    (["build-data", "pararell", "--source", "x", "--output", "nowhere"], "unknown data builder 'pararell' (did you mean 'pararel'?)"),
])
def test_the_cli_says_did_you_mean_in_one_line_with_exit_2(argv, words, capsys, tmp_path, monkeypatch):
    from dknbench.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err, err
    assert not any(tmp_path.iterdir())  # refused before anything is written
