"""The README's "From Python" blocks run as written, in order, in one namespace."""

import re

import pytest

from dknbench.paths import REPO_ROOT


def python_blocks() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text()
    section = text.split("## From Python", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_readme_has_python_blocks():
    assert len(python_blocks()) >= 2


@pytest.mark.embedded
def test_readme_python_blocks_run(isolated_cache, capsys):
    namespace: dict = {}
    for block in python_blocks():
        exec(compile(block, "README.md (From Python)", "exec"), namespace)
    out = capsys.readouterr().out
    assert "KNs (layer, neuron):" in out and "BDC sizes:" in out and "with the" in out
    # a fact the model knows (the gcr gate, known_min_prob), and the query printed filled in
    assert namespace["located"].queries and namespace["scorer"].base_prob >= 0.3
    assert "[Y]" not in out.splitlines()[0] and namespace["fact"].object in out.splitlines()[0]
