"""Data builders: raw data -> ``datasets.DatasetDict`` in the fact schema, plus a dataset card.

Each builder module registers a function ``build(source, seed=42, **options) -> DatasetDict`` in
``BUILDERS`` with ``@BUILDERS.register("name")``; the registry imports this package's modules the
first time a builder is looked up (dknbench/registry.py), never when the package is imported: so
``dknbench.data.loading`` can build ``build:NAME:SOURCE`` specs while the builders that read any
fact set (perturbed, fact-checking) import ``load_facts``, without an import cycle. Registry metadata describes the card: ``version``, ``license`` (Hub license id),
``default_split``, ``configs`` (extra configs for splits whose features differ), ``fields``, and the
Responsible-AI fields of ``croissant.json``: ``collection`` (how the rows were made, e.g. the seeded
generation or perturbation), ``collection_type`` and ``limitations`` (a list).
``build_dataset`` runs a builder and writes the folder (see ``dknbench.data.cards``).
"""

from __future__ import annotations

import re
from pathlib import Path

from dknbench.registry import Registry



def _builder_problem(function) -> str | None:
    """Why ``function`` cannot be a builder (None when it can): ``build(source, seed=..., ...)``."""
    import inspect

    if not callable(function) or isinstance(function, type):
        return "is not a function build(source, seed=42, **options)"
    names = list(inspect.signature(function).parameters)
    if names[:2] != ["source", "seed"]:
        return f"takes ({', '.join(names)}); a builder takes (source, seed=42, **options)"
    return None


BUILDERS = Registry("data builder", package=__name__, check=_builder_problem)


def build(name: str, source, seed: int = 42, **options):
    """Run builder ``name`` and return its DatasetDict (nothing written)."""
    builder = BUILDERS.get(name)
    return builder(source, seed=seed, **options)


SOURCES_FILE = Path(__file__).resolve().parent / "sources.yaml"


def source_citations() -> dict[str, str]:
    """BibTeX per raw source, keyed by the folder name of its PROVENANCE.md."""
    import yaml

    with open(SOURCES_FILE, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def source_label(path: Path, provenance: Path | None) -> str:
    """The source as the card records it: relative to the folder that holds its PROVENANCE.md
    (e.g. ``pararel`` or ``templama/train.jsonl``), else its file name; never a local path."""
    if provenance is not None:
        return path.resolve().relative_to(provenance.parent.resolve().parent).as_posix()
    return path.name


def _scrub_paths(options: dict) -> dict:
    # an option naming a local file is recorded by its name: the card must not leak local paths
    return {k: (Path(v).name if isinstance(v, str) and Path(v).expanduser().is_absolute() else v)
            for k, v in options.items()}


def parent_limitations(folder: Path) -> list[str]:
    """The Responsible-AI limitations a built source folder's croissant.json states (a derived set
    inherits them); [] when it has none."""
    from dknbench.data.croissant import CROISSANT_FILE
    from dknbench.io import read_json

    path = folder / CROISSANT_FILE
    if not path.is_file():
        return []
    found = read_json(path)
    found = found.get("rai:dataLimitations") if isinstance(found, dict) else None
    found = [found] if isinstance(found, str) else found
    return [text for text in found or [] if isinstance(text, str)]


def source_info(source) -> dict:
    """Provenance of a source for the card: its PROVENANCE.md (raw data) or its parent card."""
    from dknbench.data.cards import read_card

    from ._common import provenance_for

    text = str(source)
    path = Path(text).expanduser()
    if not path.exists():
        return {"source": text if not path.is_absolute() else path.name}
    card = read_card(path) if path.is_dir() else None
    if card and "dknbench" in card:
        parent = card["dknbench"]
        label = f"dknbench dataset {parent.get('builder')} (seed {parent.get('seed')})"
        key = parent.get("source_key") or ""
        return {
            "source": label,
            "source_key": key,
            "provenance": f"Derived from the {label}, built from {Path(str(parent.get('source'))).name}.",
            "source_commits": parent.get("source_commits") or [],
            "license": card.get("license"),
            "license_details": card.get("license_details"),
            "citation": source_citations().get(key, ""),
            "languages": card.get("language"),
            "source_limitations": [f"From the source ({label}): {text}" for text in parent_limitations(path)],
        }
    provenance = provenance_for(path)
    info: dict = {"source": source_label(path, provenance)}
    if provenance is not None:
        body = provenance.read_text(encoding="utf-8")
        key = provenance.parent.name
        info.update(source_key=key, provenance=body, citation=source_citations().get(key, ""),
                    source_commits=sorted(set(re.findall(r"\b[0-9a-f]{40}\b", body))),
                    license_details=" ".join(line.strip(" -") for line in body.splitlines() if "licen" in line.lower()))
    return info


def card_info_for(name: str, source, seed: int, options: dict) -> dict:
    import inspect

    entry = BUILDERS.entry(name)
    meta = entry.metadata
    # record every option with its effective value, defaults included, so the card alone rebuilds it
    defaults = {p.name: p.default for p in inspect.signature(entry.target).parameters.values()
                if p.name not in ("source", "seed") and p.default is not inspect.Parameter.empty}
    options = {**defaults, **options}
    info = {
        "builder": name,
        "builder_version": meta.get("version", "1.0.0"),
        "seed": seed,
        "options": _scrub_paths({k: (list(v) if isinstance(v, tuple) else v) for k, v in sorted(options.items())}),
        "description": entry.description,
        "license": meta.get("license", "unknown"),
        "default_split": meta.get("default_split"),
        "configs": meta.get("configs"),
        "fields": meta.get("fields"),
        "pretty_name": meta.get("pretty_name", f"dknbench {name}"),
        "languages": meta.get("languages"),
        "task_categories": meta.get("task_categories"),
        # the Responsible-AI fields of croissant.json (dknbench.data.croissant)
        "collection": meta.get("collection"),
        "collection_type": meta.get("collection_type"),
        "limitations": meta.get("limitations"),
    }
    found = source_info(source)
    # a builder's declared license wins over the parent card's; PROVENANCE text is kept verbatim
    if meta.get("license") is None and found.get("license"):
        info["license"] = found["license"]
    found.pop("license", None)
    if meta.get("languages") or not found.get("languages"):
        found.pop("languages", None)
    inherited = found.pop("source_limitations", [])
    info.update(found)
    info["limitations"] = [*(info["limitations"] or []), *inherited]
    return info


def build_dataset(name: str, source, output=None, seed: int = 42, overwrite: bool = False, **options) -> Path:
    """Build dataset ``name`` from ``source`` and write it (parquet + card) to ``output``.

    ``output`` defaults to ``<dknbench cache>/datasets/<name>-seed<seed>``. Returns the folder.
    """
    from dknbench.io import check_replaceable, exclusive_writer
    from dknbench.paths import cache_dir

    BUILDERS.entry(name)  # unknown name -> error before any work
    output = Path(output) if output else cache_dir() / "datasets" / f"{name}-seed{seed}"
    check_replaceable(output, "output", overwrite)  # before the build: a refused folder costs nothing
    with exclusive_writer(output, "output"):  # the whole build: a second build-data into it exits 2
        return _build_into(name, source, output, seed, overwrite, options)


def _build_into(name: str, source, output: Path, seed: int, overwrite: bool, options: dict) -> Path:
    from dknbench.data.cards import write_dataset

    dataset_dict = build(name, source, seed=seed, **options)
    card_info = card_info_for(name, source, seed, options)
    if card_info.get("configs"):
        # registry metadata names a config's splits by prefix (split names can depend on options)
        card_info["configs"] = {name: [s for s in dataset_dict if s.startswith(prefix)]
                                for name, prefix in card_info["configs"].items()}
    # the rows' own language codes when they have them (multilingual builds, derived sets)
    languages = sorted({lang for split in dataset_dict.values()
                        if "language" in split.column_names for lang in split["language"] if lang})
    if languages or card_info.get("languages") == "from-options":
        card_info["languages"] = languages
    return write_dataset(dataset_dict, output, card_info, overwrite=overwrite)


__all__ = ["BUILDERS", "build", "build_dataset"]
