"""docs/ARCHITECTURE.md and the README's layout are true to the tree: every folder or module they
name exists, and every part of the package (and every top-level folder) is named."""

import re
import subprocess
from pathlib import Path

import pytest

from dknbench.results.schema import SUMMARY_FIELDS

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "dknbench"
FILE_NAME = re.compile(r"(?<![\w/.<-])([\w-]+(?:/[\w.-]+)*\.(?:py|yaml|jsonl))\b")


def layout_block(doc: Path) -> list[str]:
    """The lines of the first fenced block whose lines name dknbench/ folders (the layout)."""
    for block in re.findall(r"```[a-z]*\n(.*?)```", doc.read_text(encoding="utf-8"), flags=re.S):
        if re.search(r"^dknbench/\w+", block, flags=re.M):
            return block.splitlines()
    raise AssertionError(f"{doc}: no layout block (a fenced block of 'dknbench/...' lines)")


def entries(lines: list[str]) -> list[tuple[str, list[str]]]:
    """(path, description lines) per entry: a line that starts in column 0 names the path(s) up to
    its first run of two spaces ("dknbench/hub.py, activity.py": two modules of one folder);
    indented lines continue the entry above."""
    found = []
    for line in lines:
        if not line.strip():
            continue
        if not line[0].isspace():
            column, rest = (re.split(r"\s{2,}", line, maxsplit=1) + [""])[:2]
            names = [n.strip() for n in column.split(",") if n.strip()]
            base = names[0].rstrip("/").rpartition("/")[0]
            for n, name in enumerate(names):
                path = name if n == 0 or "/" in name else f"{base}/{name}"
                found.append((path.rstrip("/"), [rest]))
        else:
            assert found, f"a continuation line before any entry: {line!r}"
            found[-1][1].append(line)
    return found


def tracked_top_folders() -> set[str]:
    try:
        files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return {f.split("/")[0] for f in files.splitlines() if "/" in f and not f.startswith(".")}


def package_parts() -> tuple[set[str], set[str]]:
    """(dknbench/<subpackage>, dknbench/<root module or data file>)."""
    subpackages = {f"dknbench/{p.name}" for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    roots = {f"dknbench/{p.name}" for p in PACKAGE.iterdir()
             if p.is_file() and p.suffix in (".py", ".yaml") and p.name not in ("__init__.py", "__main__.py")}
    return subpackages, roots


@pytest.mark.parametrize("doc", ["docs/ARCHITECTURE.md", "README.md"])
def test_every_path_the_layout_names_exists(doc):
    for path, description in entries(layout_block(ROOT / doc)):
        assert (ROOT / path).exists(), f"{doc} names {path}, which is not in the tree"
        folder = ROOT / path if (ROOT / path).is_dir() else (ROOT / path).parent
        # a file a description names lies in the entry's folder or one above it (claims.yaml beside reproduce/)
        places = [folder, *folder.parents[: len(folder.relative_to(ROOT).parts)]]
        for name in FILE_NAME.findall(" ".join(description)):
            assert any((place / name).exists() for place in places), (
                f"{doc}: the entry {path} names {name}, found neither in {folder.relative_to(ROOT)}/ nor above it")


@pytest.mark.parametrize("doc", ["docs/ARCHITECTURE.md", "README.md"])
def test_the_layout_names_every_subpackage_and_top_level_folder(doc):
    named = {path for path, _ in entries(layout_block(ROOT / doc))}
    subpackages, _ = package_parts()
    assert not subpackages - named, f"{doc}'s layout misses {sorted(subpackages - named)}"
    missing = tracked_top_folders() - named - {"dknbench"}
    assert not missing, f"{doc}'s layout misses the top-level folders {sorted(missing)}"


def test_the_architecture_names_every_module_of_the_package():
    layout = entries(layout_block(ROOT / "docs/ARCHITECTURE.md"))
    named = {path for path, _ in layout}
    _, roots = package_parts()
    assert not roots - named, f"docs/ARCHITECTURE.md's layout misses the root modules {sorted(roots - named)}"
    text = {path: " ".join(description) for path, description in layout}
    for sub in sorted(p for p in named if (ROOT / p / "__init__.py").is_file()):
        modules = {p.name for p in (ROOT / sub).glob("*.py") if not p.name.startswith("_")}
        mentioned = set(FILE_NAME.findall(text[sub]))
        assert not modules - mentioned, f"docs/ARCHITECTURE.md: {sub} does not name {sorted(modules - mentioned)}"


def test_the_architecture_lists_every_summary_field():
    doc = (ROOT / "docs/ARCHITECTURE.md").read_text(encoding="utf-8")
    section = doc[doc.index("`summary.json` keys:"):]
    section = section[: section.index("\n\n")]
    listed = set(re.findall(r"`(\w+)`", section))
    assert not set(SUMMARY_FIELDS) - listed, f"summary.json keys not described: {sorted(set(SUMMARY_FIELDS) - listed)}"
