"""Data builders: raw data -> ``datasets.DatasetDict`` in the fact schema, plus a dataset card.

Each builder module registers a function ``build(source, seed=42, **options) -> DatasetDict`` in
``BUILDERS``. Registry metadata describes the card: ``version``, ``license`` (Hub license id),
``default_split``, ``configs`` (extra configs for splits whose features differ), ``fields``.
``build_dataset`` runs a builder and writes the folder (see ``dknbench.data.cards``).
"""

from __future__ import annotations

import re
from pathlib import Path

from dknbench.registry import Registry

BUILDERS = Registry("data builder")


def build(name: str, source, seed: int = 42, **options):
    """Run builder ``name`` and return its DatasetDict (nothing written)."""
    builder = BUILDERS.get(name)
    return builder(source, seed=seed, **options)


def source_info(source) -> dict:
    """Provenance of a source for the card: its PROVENANCE.md (raw data) or its parent card."""
    from dknbench.data.cards import read_card

    from ._common import provenance_for

    text = str(source)
    path = Path(text).expanduser()
    info: dict = {"source": str(path.resolve()) if path.exists() else text}
    if not path.exists():
        return info
    card = read_card(path) if path.is_dir() else None
    if card and "dknbench" in card:
        parent = card["dknbench"]
        info["provenance"] = (
            f"Derived from the dknbench dataset at {info['source']} (builder {parent.get('builder')}, "
            f"seed {parent.get('seed')}, built from {parent.get('source')})."
        )
        info["source_commits"] = parent.get("source_commits") or []
        info["license"] = card.get("license")
        return info
    provenance = provenance_for(path)
    if provenance is not None:
        body = provenance.read_text(encoding="utf-8")
        info["provenance"] = body
        info["source_commits"] = sorted(set(re.findall(r"\b[0-9a-f]{40}\b", body)))
        notes = [line.strip(" -") for line in body.splitlines() if "licen" in line.lower()]
        info["license_note"] = " ".join(notes)
    return info


def card_info_for(name: str, source, seed: int, options: dict) -> dict:
    import inspect

    entry = BUILDERS.entry(name)
    meta = entry.metadata
    # record every option with its effective value, defaults included, so the card alone rebuilds it
    defaults = {p.name: p.default for p in inspect.signature(entry.load()).parameters.values()
                if p.name not in ("source", "seed") and p.default is not inspect.Parameter.empty}
    options = {**defaults, **options}
    info = {
        "builder": name,
        "builder_version": meta.get("version", "1.0.0"),
        "seed": seed,
        "options": {k: (list(v) if isinstance(v, tuple) else v) for k, v in sorted(options.items())},
        "description": entry.description,
        "license": meta.get("license", "unknown"),
        "default_split": meta.get("default_split"),
        "configs": meta.get("configs"),
        "fields": meta.get("fields"),
        "pretty_name": meta.get("pretty_name", f"dknbench {name}"),
        "languages": meta.get("languages"),
    }
    found = source_info(source)
    # a builder's declared license wins over the parent card's; PROVENANCE text is kept verbatim
    if meta.get("license") is None and found.get("license"):
        info["license"] = found["license"]
    found.pop("license", None)
    info.update(found)
    return info


def build_dataset(name: str, source, output=None, seed: int = 42, overwrite: bool = False, **options) -> Path:
    """Build dataset ``name`` from ``source`` and write it (parquet + card) to ``output``.

    ``output`` defaults to ``<dknbench cache>/datasets/<name>-seed<seed>``. Returns the folder.
    """
    from dknbench.data.cards import write_dataset
    from dknbench.paths import cache_dir

    BUILDERS.entry(name)  # unknown name -> error before any work
    dataset_dict = build(name, source, seed=seed, **options)
    card_info = card_info_for(name, source, seed, options)
    if card_info.get("configs"):
        # registry metadata names a config's splits by prefix (split names can depend on options)
        card_info["configs"] = {name: [s for s in dataset_dict if s.startswith(prefix)]
                                for name, prefix in card_info["configs"].items()}
    if card_info.get("languages") == "from-options":
        card_info["languages"] = sorted({lang for split in dataset_dict.values()
                                         if "language" in split.column_names for lang in split["language"]})
    output = Path(output) if output else cache_dir() / "datasets" / f"{name}-seed{seed}"
    return write_dataset(dataset_dict, output, card_info, overwrite=overwrite)


def _register_all() -> None:
    # importing a builder module runs its @BUILDERS.register decorator
    from . import (  # noqa: F401
        agreement,
        editing,
        fact_checking,
        multilingual,
        pararel,
        perturbed,
        templama,
        tempnarrativelama,
        wikitext,
    )


_register_all()

__all__ = ["BUILDERS", "build", "build_dataset"]
