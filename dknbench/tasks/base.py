"""Task classes: the Python half of a task (the YAML in tasks/ is the other half).

A task class turns one fact into result rows (``run_fact``) and all rows into metrics, tables and
figures (``summarize``). Everything shared (model, scorer, KN locators, options, seed) comes from
the RunContext, so a new experiment is a YAML file plus a small class.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import Skipped
from ..registry import Registry
from ..results.schema import estimate_record, metric_record  # noqa: F401  (tasks build records with these)

class SkipFact(Skipped):
    """This fact cannot be used (no usable query, no KNs, ...): counted by reason, not a crash."""


@dataclass
class Summary:
    metrics: list[dict] = field(default_factory=list)  # metric records (docs/ARCHITECTURE.md)
    tables: dict[str, list[dict]] = field(default_factory=dict)
    comparisons: list[dict] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    # method -> metric -> values: a list, or {fact_id: value} so that a reader can pair methods
    per_fact: dict[str, dict[str, list[float] | dict[str, float]]] = field(default_factory=dict)


class Task(ABC):
    """A task's Python half; a subclass registers with ``@TASK_CLASSES.register("name")``.

    The harness calls, in order (docs/ARCHITECTURE.md, "Task lifecycle"): ``requirements`` (which
    facts are worth running), ``prepare`` once per process, ``run_fact`` per unfinished fact,
    ``after_facts`` once on the driver, and ``summarize`` in ``finish``. A subclass must write
    ``run_fact`` and ``summarize``; the other three have working defaults. Everything shared
    (model, scorer, locators, options, seed, facts, run folder) comes from ``self.ctx``, a
    ``RunContext``; ``self.options`` is ``ctx.options``.
    """

    def __init__(self, ctx: "RunContext"):
        self.ctx = ctx
        self.options = ctx.options

    def prepare(self) -> None:
        """Work done once per process before its facts (e.g. building locators or loading a
        side resource). Default: nothing."""

    def requirements(self) -> list:
        """What a fact needs before ``run_fact`` is worth calling (``tasks.requirements``: encodable
        queries, known to the model, facts per relation). The harness selects, in the seeded
        order, the first ``--limit`` facts that meet them and counts the others as passed over.
        Read options here, not the run's facts (the selection is made before they exist).
        Default: no requirement."""
        return []

    @abstractmethod
    def run_fact(self, fact, index: int) -> list[dict]:
        """The result rows of one fact (``fact``: a ``data.schema.Fact``; ``index``: its position
        in the run's facts, which seeds its draws). Typically one row per method, each a dict with
        at least ``method`` and ``fact_id`` and only JSON-able values (they are written to
        ``facts/<index>.json`` and read back by ``summarize``). Raise ``SkipFact(reason)`` when the
        fact cannot be used: it is counted by reason, not a crash. Must not depend on the order in
        which facts run (Ray runs them in any order); another fact's finished rows come from
        ``ctx.finished_rows(index)``."""

    def after_facts(self, rows: list[dict]) -> None:
        """Work that needs every fact's rows (e.g. fine-tuning on the union of DKNs). The harness
        calls it once, on the driver, after every fact is finished, whatever the executor; it
        writes its own outputs under ``ctx.output`` atomically and must be resumable.
        Default: nothing."""

    @abstractmethod
    def summarize(self, rows: list[dict], output: Path) -> Summary:
        """Every fact's rows (all facts, all methods, in fact order) -> a ``Summary``: metric
        records built with ``metric_record`` / ``estimate_record`` (their names are the task
        YAML's ``metrics:``, which also gives each one's direction), tables, comparisons,
        ``per_fact`` values, and the names of the figures written into ``output`` (those the YAML
        declares under ``figures:``). Runs without a model (``ctx.lm`` is None) and runs again on
        the same rows when a finished run is rerun, so it reads only the rows, the options and
        ``ctx.run_info``, and writes its figures atomically."""


class TaskOptions(dict):
    """A run's resolved options; reading one the task file does not set is a ConfigError naming
    the file and the option (a task YAML with ``class: gcr`` but no ``options`` raised a bare
    KeyError from inside the task)."""

    def __init__(self, options: dict, where: str = "the task file"):
        super().__init__(options)
        self.where = where

    def __missing__(self, key):
        from ..errors import ConfigError

        raise ConfigError(f"{self.where}: option {key!r} is not set, and its task class needs it; "
                          f"add it under options: (options set: {', '.join(sorted(map(str, self))) or 'none'})")

    def __reduce__(self):  # pickled for Ray workers: keep the class and the file name
        return (TaskOptions, (dict(self), self.where))


@dataclass
class RunContext:
    config: Any  # TaskConfig
    options: dict
    methods: list[str]
    lm: Any  # LoadedModel
    seed: int
    output: Path
    facts: list  # every fact of the run (after --limit), e.g. to draw irrelevant facts
    cache: Any  # AttributionCache
    batch_size: int = 128
    max_memory: int | str | None = None  # the IG engine's memory budget (see localization/memory.py)
    run_info: dict = field(default_factory=dict)  # run.json: fingerprint, n_layers, ...
    dataset: str | None = None  # the fact-set spec, for tasks that draw from the whole set (not only --limit's)
    finished_rows: Any = None  # index -> that fact's rows if it is already finished, else None (harness)
    _scorers: dict = field(default_factory=dict)
    _locators: dict = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.options, TaskOptions):
            path = getattr(self.config, "path", None)
            self.options = TaskOptions(self.options, str(path) if path else "the task file")

    def scorer(self, mode: str | None = None):
        from ..scoring import AnswerScorer

        mode = mode or self.options.get("prob_mode", "first")
        if mode not in self._scorers:
            self._scorers[mode] = AnswerScorer(self.lm, mode=mode)
        return self._scorers[mode]

    def locator(self, name: str, **overrides):
        """A KNLocator for localizer ``name``, built from the task's options that match its
        constructor's parameters (tasks/methods.py; ``overrides``: parameters set by the caller),
        memoised. A localizer with a ``match`` (random) gets the locator of that localizer as the
        reference whose KN count it matches."""
        from ..localization import KNLocator
        from .methods import build_method

        localizer = build_method("localizer", name, self.options, self.seed, **overrides)
        key = (name, repr(sorted(localizer.get_params().items())))
        if key not in self._locators:
            match = getattr(localizer, "match", None)
            reference = self.locator(match) if isinstance(match, str) else None
            self._locators[key] = KNLocator(
                self.lm, localizer, scorer=self.scorer(), cache=self.cache,
                batch_size=self.batch_size, max_memory=self.max_memory, engine_path=self.options.get("engine", "auto"),
                refine_p=self.options.get("refine_p", 0.5), reference=reference)
        return self._locators[key]


# every module of dknbench.tasks is imported on the first lookup (dknbench/registry.py)
TASK_CLASSES = Registry("task class", base=Task, package=__package__)
