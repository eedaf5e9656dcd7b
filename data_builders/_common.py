"""Helpers shared by the builders: reading raw files, options, seeded choices, fact tables."""

from __future__ import annotations

import gzip
import random
import re
from pathlib import Path
from typing import Iterable, Iterator

import yaml

from dknbench.data.schema import FACT_FEATURES, SLOT, Fact, fact_to_row
from dknbench.errors import DKNBenchError
from dknbench.io import read_jsonl as dknbench_read_jsonl

# closing punctuation (Latin and CJK) that may follow the slot in a causal-LM query
_TRAILING = r"""[\s.?!,;:。？！，；：、)\]}"'”’」』）]*"""
_SLOT_LAST = re.compile(re.escape(SLOT) + _TRAILING + r"$")
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


def source_path(source, *, what: str) -> Path:
    path = Path(source).expanduser()
    if not path.exists():
        raise DKNBenchError(f"{what} source {str(source)!r} does not exist")
    return path


def open_text(path: Path):
    """Open a text file, transparently gunzipping ``*.gz``."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def read_jsonl(path: Path) -> Iterator[dict]:
    for _, row in dknbench_read_jsonl(path):
        yield row


def require_keys(row: dict, keys: Iterable[str], where: str) -> None:
    missing = [k for k in keys if k not in row]
    if missing:
        raise DKNBenchError(f"{where}: missing field(s) {', '.join(missing)}; is this the right file format?")


def as_list(value, name: str) -> list[str] | None:
    """An option given as a list or a comma-separated string (as the CLI passes it)."""
    if value is None:
        return None
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",") if v.strip()]
    elif isinstance(value, (list, tuple)):
        items = [str(v).strip() for v in value]
    else:
        raise DKNBenchError(f"option {name}: expected a list or comma-separated string, got {value!r}")
    return items


def as_bool(value, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "yes", "1", "false", "no", "0"}:
        return value.lower() in {"true", "yes", "1"}
    raise DKNBenchError(f"option {name}: expected true or false, got {value!r}")


def as_int(value, name: str, minimum: int = 0) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise DKNBenchError(f"option {name}: expected an integer, got {value!r}") from None
    if number < minimum:
        raise DKNBenchError(f"option {name}: must be >= {minimum}, got {number}")
    return number


def rng(seed: int, *keys) -> random.Random:
    """A generator for one decision: seeded by the build seed and the item it decides for, so a
    fact's draw does not depend on which other facts were kept."""
    return random.Random("/".join([str(seed), *map(str, keys)]))


def draw_other(pool: list[str], exclude: set[str], seed: int, *keys) -> str:
    """A member of ``pool`` not in ``exclude`` (seeded); "" when there is none."""
    candidates = [item for item in pool if item not in exclude]
    if not candidates:
        return ""
    return rng(seed, *keys).choice(candidates)


def slot_is_last(query: str) -> bool:
    """True when ``[Y]`` ends the query, closing punctuation aside (usable by causal LMs)."""
    return _SLOT_LAST.search(query) is not None


def fill_pattern(pattern: str, subject: str) -> str:
    return pattern.replace("[X]", subject)


def unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def load_template_file(name: str) -> dict:
    with open(TEMPLATES_DIR / name, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def facts_dataset(facts: list[Fact], features=FACT_FEATURES, extra: list[dict] | None = None):
    """A datasets.Dataset in the fact schema; ``extra`` adds per-row columns (given ``features``)."""
    import datasets

    rows = [fact_to_row(f) for f in facts]
    if extra is not None:
        rows = [{**row, **more} for row, more in zip(rows, extra)]
    columns = {name: [row[name] for row in rows] for name in features}
    return datasets.Dataset.from_dict(columns, features=features)


def seeded_sample(items: list, k: int | None, seed: int, *keys) -> list:
    """At most ``k`` items drawn with the seed, in their original order."""
    if k is None or len(items) <= k:
        return list(items)
    chosen = sorted(rng(seed, *keys).sample(range(len(items)), k))
    return [items[i] for i in chosen]


def nonempty(dataset_dict, what: str):
    empty = [name for name, split in dataset_dict.items() if len(split) == 0]
    if empty:
        raise DKNBenchError(f"{what}: no rows left in split(s) {', '.join(empty)} after filtering; relax the options")
    return dataset_dict


def provenance_for(path: Path) -> Path | None:
    """The PROVENANCE.md beside a raw source (its folder or a parent folder)."""
    start = path if path.is_dir() else path.parent
    for folder in [start, *start.parents][:3]:
        candidate = folder / "PROVENANCE.md"
        if candidate.is_file():
            return candidate
    return None
