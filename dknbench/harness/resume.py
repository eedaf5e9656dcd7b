"""A run folder is untrusted input: resume from it only when it provably holds this run.

``run.json`` must exist and carry the same config hash (start.check_output), the same run settings
(provenance.RUN_SETTINGS), and every ``facts/*.json`` must
be the record of the fact that the resolved fact set has at that index. Anything else is refused
with one line naming the file, instead of mixing foreign results into the summary.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import ConfigError
from ..io import inside, read_json
from .provenance import RUN_SETTINGS

FACT_NAME = re.compile(r"^\d{6}\.json$")
_FRESH = "choose another --output or delete the folder"


def fact_files(output: Path) -> list[Path]:
    folder = output / "facts"
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def check_settings(output: Path, settings: dict) -> None:
    """Finished facts were computed with the same run settings (start.check_output has already
    required run.json and the same config hash)."""
    output = Path(output)
    run_file = output / "run.json"
    if not fact_files(output) or not run_file.is_file():
        return  # nothing computed yet: the new settings simply replace the old
    previous = read_json(inside(output, "run.json", str(run_file)))
    recorded = previous.get("settings") if isinstance(previous, dict) else None
    for name in RUN_SETTINGS:
        before = recorded.get(name, "(not recorded)") if isinstance(recorded, dict) else "(not recorded)"
        if before != settings[name]:
            raise ConfigError(f"{run_file}: resuming with {name}={settings[name]!r} but the finished facts "
                              f"were computed with {name}={before!r}; rerun with the same {name} or {_FRESH}")


def check_fact_files(output: Path, facts: list) -> None:
    """Every finished fact file is the record of ``facts[index]`` (its name gives the index)."""
    for path in fact_files(Path(output)):
        where = str(path)
        if not FACT_NAME.match(path.name):
            raise ConfigError(f"{where}: not a fact file written by dknbench (expected NNNNNN.json); {_FRESH}")
        index = int(path.stem)
        record = read_json(inside(output, f"facts/{path.name}", where))
        if index >= len(facts):
            raise ConfigError(f"{where}: fact index {index} is beyond the {len(facts)} facts of this run; {_FRESH}")
        if not isinstance(record, dict) or record.get("index") != index or not isinstance(record.get("rows"), list):
            raise ConfigError(f"{where}: not a fact record with index {index} and a rows list; {_FRESH}")
        if record.get("fact_id") != facts[index].id:
            raise ConfigError(f"{where}: fact_id {record.get('fact_id')!r} is not fact {index} of this run "
                              f"({facts[index].id!r}); the folder holds another fact set; {_FRESH}")
