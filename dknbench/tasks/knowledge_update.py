"""knowledge-update (000 §4, Fig. 5, Tables 2, 3, 8): do DKNs guide a model to learn new facts?

Per fact (``run_fact``): KNs and each method's DKN D from the fact's 2018 TempNarrativeLAMA query
(split ``dkn_2018``, the run's fact set), on the pre-trained model.

Once, in ``after_facts`` (the harness calls it on the driver after every fact is finished,
whatever the executor, with every fact's rows), the training phase runs:

1. incremental fine-tuning (all parameters) on the 2018 queries filled with their true answers,
   so that Q_old is known (000 §4.2); its weights are the common start of every setting;
2. Θ(D) (the union of the facts' DKN neurons), Θ(N) (non-DKN KNs, size-matched to D: sampled down
   when larger, padded with random DKNs when smaller, 000 footnote 2), Θ(Rnd) (|D| random neurons,
   seeded) and Θ(All) (full fine-tuning), each from the start weights, on the 2019 counterfactual
   narratives; top-1 accuracy (first answer token) on Q_new, Q_old, Q_au after each;
3. after Θ(All): ΔP(n) (Eq. 13), ΔN with τ_ΔN = 0.04·max (GPT-2) / 0.05·max (LLaMA family) and
   the overlaps O(D, ΔN), O(N, ΔN), O(Rnd, ΔN) (Eq. 14).

Results go to ``<output>/training.json`` (atomic; ``summarize`` reads it) and ΔP to
``<output>/delta_p.npy``. Resumable: an existing training.json is never retrained; each finished
setting leaves ``training/<setting>/result.json``; a killed setting resumes from its per-epoch
checkpoint (``train_neurons``). The original weights are restored (CPU copy of the state dict)
after the training phase, also on errors.
"""

from __future__ import annotations

import json
import warnings
import random
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from ..data.schema import SLOT
from ..errors import ConfigError
from ..io import read_json, write_json
from ..scoring import SkipQuery
from ..stats import compare_groups, compare_paired
from ..stats.intervals import CI_T, mean_ci
from .base import TASK_CLASSES, Summary, Task, metric_record
from .common import neurons_from_json, neurons_json, rows_by_method
from .dkn_common import FactDKNs
from .requirements import dkn_fact_requirements
from ..interventions.finetune import (TrainConfig, changed_neurons, neuron_vectors, overlap, parameter_change,
                       train_neurons)

QUERY_TYPES = {"Qnew": "q_new", "Qold": "q_old", "Qau": "q_au"}
METRICS = {"Qnew": "acc_qnew", "Qold": "acc_qold", "Qau": "acc_qau"}
SETTING_ORDER = ("N", "Rnd", "All", "D")  # 000 Table 2 row order
DELTA_RATIOS = {"gpt2": 0.04, "llama": 0.05}  # 000 App. A.3, Eq. 19-20
DELTA_N_MAX_SHARE = 0.5  # a ΔN holding more than half of all neurons separates nothing
DELTA_P_QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)


def label(setting: str) -> str:
    return f"Θ({setting})"


# what a run measures about itself rather than computes: CPU/wall seconds differ between two runs
# of one config, so "same seed, same config -> same results" holds for everything but these
TIMING_KEYS = ("step_seconds", "CPU s/step")  # in training.json's settings / the accuracy table
TIMING_METRICS = ("train_cpu_s_per_step",)


def step_timing(result: dict) -> tuple | None:
    """(t-interval of the mean CPU seconds per optimizer step, steps) of one fine-tuning setting,
    or None for a result written before steps were timed (or with fewer than 2 timed steps)."""
    cpu = ((result or {}).get("step_seconds") or {}).get("cpu") or []
    return (mean_ci(cpu), len(cpu)) if len(cpu) >= 2 else None


# --- data ------------------------------------------------------------------------------------------
def dataset_folder(ctx) -> Path:
    """The TempNarrativeLAMA folder behind the run's dataset spec (a folder or build:NAME:SOURCE)."""
    from ..data.cards import read_card
    from ..data.loading import BUILD_PREFIX, built_folder

    spec = ctx.dataset or (ctx.run_info.get("resolved") or {}).get("dataset")
    spec = str(spec or ctx.config.dataset)
    folder = built_folder(spec) if spec.startswith(BUILD_PREFIX) else Path(spec).expanduser()
    card = read_card(folder) if folder.is_dir() else None
    if not card or (card.get("dknbench") or {}).get("builder") != "tempnarrativelama":
        raise ConfigError(f"dataset {spec!r}: knowledge-update needs a TempNarrativeLAMA folder "
                          "(dknbench build-data tempnarrativelama ...) or build:tempnarrativelama:SOURCE")
    return folder


def read_narratives(folder: Path) -> dict[str, dict]:
    import pyarrow.parquet as pq

    from ..data.cards import read_card
    from ..data.loading import _card_splits

    splits = _card_splits(folder, read_card(folder))
    names = [s for s in splits if s.startswith("narratives_")]
    if len(names) != 1:
        raise ConfigError(f"{folder}: expected one narratives_<year> split, found {names or 'none'}")
    return {row["id"]: row for file in splits[names[0]] for row in pq.read_table(file).to_pylist()}


def fill(query: str, answer: str) -> str:
    return query.replace(SLOT, answer.strip())


def query_values(ev: dict | None, query_type: str) -> dict[str, float]:
    """One setting's 0/1 correctness on ``query_type``, keyed "fact#i" (the fact's i-th query), so
    two settings can be paired on the queries both answered."""
    per_fact = (ev or {}).get(query_type, {}).get("per_fact", {})
    return {f"{fact}#{i}": float(x) for fact, xs in per_fact.items() for i, x in enumerate(xs)}


@torch.no_grad()
def top1_correct(scorer, facts) -> tuple[dict[str, list[int]], int]:
    """fact id -> 0/1 per usable query (top-1 next token == gold first answer token); skipped count."""
    items, skipped = [], 0
    for fact in facts:
        for query in fact.queries:
            try:
                items.append((fact.id, scorer.encode(query, fact.object)))
            except SkipQuery:
                skipped += 1
    out: dict[str, list[int]] = {f.id: [] for f in facts}
    for start in range(0, len(items), scorer.batch_size):
        chunk = items[start: start + scorer.batch_size]
        encoded = [e for _, e in chunk]
        ids, mask, targets = scorer.collate(encoded)
        logits = scorer.logits(ids, mask, targets)
        pred = logits[torch.arange(len(chunk), device=logits.device), targets].argmax(-1).tolist()
        for (fid, e), p in zip(chunk, pred):
            out[fid].append(int(p == e.answer_ids[0]))
    return out, skipped


@contextmanager
def dropout_rate(model, p: float):
    """Set every dropout module's (and attention-dropout attribute's) rate to ``p``; restored after.
    ``p < 0`` keeps the model's own rates. Yields how many places were set."""
    if p < 0:
        yield 0
        return
    saved = []
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            saved.append((module, "p", module.p))
            module.p = p
        elif isinstance(getattr(module, "attention_dropout", None), float):
            saved.append((module, "attention_dropout", module.attention_dropout))
            module.attention_dropout = p
    try:
        yield len(saved)
    finally:
        for module, name, value in saved:
            setattr(module, name, value)


def match_size(pool, size: int, fill_from, rng: random.Random) -> list[tuple[int, int]]:
    """``size`` neurons of ``pool`` (sampled when larger; padded from ``fill_from`` when smaller)."""
    pool = sorted(set(pool))
    if len(pool) >= size:
        return sorted(rng.sample(pool, size))
    extra = sorted(set(fill_from) - set(pool))
    return sorted(pool + rng.sample(extra, min(size - len(pool), len(extra))))


def delta_p_distribution(delta: np.ndarray, ratio: float | None) -> dict:
    """Quantiles of ΔP (Eq. 13) over all neurons, and where τ_ΔN = ratio x max falls among them.
    Shows why a ΔN is degenerate: when min/max > ratio every neuron passes τ_ΔN."""
    flat = np.asarray(delta, dtype=float).ravel()
    row = {f"q{round(100 * q):02d}": float(np.quantile(flat, q)) for q in DELTA_P_QUANTILES}
    top = row["q100"]
    row["min/max"] = row["q00"] / top if top > 0 else None
    row["τ_ΔN"] = None if ratio is None else ratio * top
    row["share > τ_ΔN"] = None if ratio is None or top <= 0 else float(np.mean(flat > ratio * top))
    row["neurons"] = int(flat.size)
    return row


def delta_n_degenerate(n_delta: int, n_total: int, ratio) -> str | None:
    """Why the overlaps O(X, ΔN) mean nothing, or None: a ΔN covering more than half of all neurons
    makes every O(X, ΔN) ~ 1 whatever X is (the run's ΔP is too flat for τ_ΔN = ratio x max)."""
    if n_total and n_delta > DELTA_N_MAX_SHARE * n_total:
        return (f"ΔN covers {n_delta}/{n_total} neurons ({100 * n_delta / n_total:.1f} % > "
                f"{100 * DELTA_N_MAX_SHARE:.0f} %): ΔP is too flat for τ_ΔN = {ratio} x max "
                "(see table delta_p_distribution)")
    return None


def random_neurons(n_layers: int, n_neurons: int, size: int, rng: random.Random) -> list[tuple[int, int]]:
    flat = rng.sample(range(n_layers * n_neurons), size)
    return sorted((i // n_neurons, i % n_neurons) for i in flat)


# --- task ------------------------------------------------------------------------------------------
@TASK_CLASSES.register("knowledge-update")
class KnowledgeUpdateTask(Task):
    train_fn = staticmethod(train_neurons)  # tests count the calls
    def requirements(self):
        return dkn_fact_requirements(self.options)


    def prepare(self):
        from ..data.loading import load_facts

        self.folder = dataset_folder(self.ctx)
        self.splits = {qt: {f.id: f for f in load_facts(self.folder, split=split)}
                       for qt, split in QUERY_TYPES.items()}
        self.narratives = read_narratives(self.folder)
        self._config(self.options["epochs"])  # bad hyper-parameters fail before any localisation
        self._config(max(1, self.options["incremental_epochs"]))
        if self.ctx.lm is not None:
            self.delta_ratio()
        missing = [f.id for f in self.ctx.facts
                   if f.id not in self.narratives or any(f.id not in s for s in self.splits.values())]
        if missing:
            raise ConfigError(f"dataset {self.folder}: fact(s) {', '.join(missing[:3])} lack narratives "
                              "or Q_new/Q_old/Q_au rows; use the folder's default split dkn_2018")

    # per fact -------------------------------------------------------------------------------------
    def run_fact(self, fact, index):
        shared = FactDKNs(self.ctx, fact)
        rows = []
        for method in self.ctx.methods:
            dkn = shared.fit(method, self.options)
            neurons = sorted({tuple(n) for b in dkn.bdcs for n in b})
            rows.append({"fact_id": fact.id, "relation": fact.relation, "method": method,
                         "localizer": self.options["localizer"], "kns": neurons_json(shared.kns),
                         "n_kns": len(shared.kns), "dkn": neurons_json(neurons), "n_dkn": len(neurons),
                         "n_bdcs": len(dkn.bdcs), "prob_base": shared.scorer.base_prob,
                         "skipped_queries": shared.skipped})
        return rows

    def after_facts(self, rows):
        """The training phase (module doc), once every fact's DKN is known."""
        self.train_all(rows)

    # training phase -------------------------------------------------------------------------------
    def _config(self, epochs: int) -> TrainConfig:
        o = self.options
        return TrainConfig(lr=o["lr"], batch_size=o["train_batch_size"], grad_accum=o["grad_accum"],
                           epochs=epochs, warmup=o["warmup"], weight_decay=o["weight_decay"],
                           clip=o["clip"], seed=o["train_seed"]).check()

    def delta_ratio(self) -> float:
        raw = str(self.options["delta_ratio"]).strip()
        if raw == "auto":
            family = self.ctx.lm.adapter.family.name
            return DELTA_RATIOS.get(family, DELTA_RATIOS["gpt2"])
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"option delta_ratio: expected 'auto' or a number in (0, 1), got {raw!r}") from None
        if not 0 < value < 1:
            raise ConfigError(f"option delta_ratio: expected 'auto' or a number in (0, 1), got {raw!r}")
        return value

    def neuron_sets(self, rows) -> dict:
        """method -> {D, N, Rnd} (neuron lists; None when D is empty) and per-method counts."""
        adapter = self.ctx.lm.adapter
        kn_union = sorted({tuple(n) for r in rows for n in r["kns"]})
        out = {}
        for method, mine in rows_by_method(rows, self.ctx.methods).items():
            d = sorted({tuple(n) for r in mine for n in r["dkn"]})
            rng = random.Random(f"{self.ctx.seed}/knowledge-update/{method}")
            sets = {"D": d, "N": None, "Rnd": None}
            if d:
                sets["N"] = match_size(set(kn_union) - set(d), len(d), d, rng)
                sets["Rnd"] = random_neurons(adapter.n_layers, adapter.n_neurons, len(d), rng)
            out[method] = {"sets": sets, "facts": len(mine),
                           "facts_without_dkn": sum(1 for r in mine if not r["dkn"]),
                           "n_non_dkn_kns": len(set(kn_union) - set(d))}
        return out

    def evaluate(self) -> dict:
        scorer = self.ctx.scorer("first")
        out = {}
        for qt in QUERY_TYPES:
            facts = [self.splits[qt][f.id] for f in self.ctx.facts]
            per_fact, skipped = top1_correct(scorer, facts)
            out[qt] = {"per_fact": per_fact, "skipped_queries": skipped}
        return out

    def train_all(self, rows: list[dict]) -> None:
        target = self.ctx.output / "training.json"
        if target.is_file():
            return
        lm, o = self.ctx.lm, self.options
        work = self.ctx.output / "training"
        work.mkdir(parents=True, exist_ok=True)
        sets = self.neuron_sets(rows)
        settings = []  # (key, method, setting, neurons)
        for method in self.ctx.methods:
            for name in ("D", "N", "Rnd"):
                settings.append((f"{method}-{name}", method, name, sets[method]["sets"][name]))
        settings.append(("All", "all", "All", None))
        texts_old = [fill(self.splits["Qold"][f.id].queries[0], self.splits["Qold"][f.id].object)
                     for f in self.ctx.facts]
        texts_new = [self.narratives[f.id]["text"] for f in self.ctx.facts]
        original = {k: v.detach().to("cpu", copy=True) for k, v in lm.model.state_dict().items()}
        progress = bool(o["progress"])
        try:
            with dropout_rate(lm.model, o["dropout"]) as n_dropout:
                base_file = work / "incremental" / "result.json"
                start = None

                def start_state():
                    nonlocal start
                    if start is None:
                        info = {"epochs": 0, "steps": 0}
                        pre = self.evaluate() if not base_file.is_file() else None
                        if o["incremental_epochs"] > 0:
                            cfg = self._config(o["incremental_epochs"])
                            run = self.train_fn(lm, texts_old, None, cfg, run_dir=work / "incremental",
                                                progress=progress)
                            info = {"epochs": cfg.epochs, "steps": run["steps"],
                                    "final_loss": run["losses"][-1] if run["losses"] else None,
                                    "step_seconds": run.get("step_seconds")}
                        start = {k: v.detach().to("cpu", copy=True) for k, v in lm.model.state_dict().items()}
                        if pre is not None:
                            write_json(base_file, {"pretrained": pre, "incremental": self.evaluate(), **info})
                    lm.model.load_state_dict(start)
                    return start

                results = {}
                for key, method, name, neurons in settings:
                    result_file = work / key / "result.json"
                    if neurons is None and name != "All":
                        results[key] = {"method": method, "setting": name, "available": False,
                                        "reason": "no DKN neuron in any fact (empty D)"}
                        continue
                    if result_file.is_file():
                        results[key] = read_json(result_file)
                        continue
                    start_state()
                    before = neuron_vectors(lm.adapter) if name == "All" else None
                    cfg = self._config(o["epochs"])
                    run = self.train_fn(lm, texts_new, neurons, cfg, run_dir=work / key, progress=progress)
                    result = {"method": method, "setting": name, "available": True,
                              "n_neurons": None if neurons is None else len(neurons),
                              "neurons": None if neurons is None else neurons_json(neurons),
                              "steps": run["steps"], "resumed_from": run["resumed_from"],
                              "final_loss": run["losses"][-1] if run["losses"] else None,
                              "step_seconds": run.get("step_seconds"),
                              "eval": self.evaluate()}
                    if name == "All":
                        delta = parameter_change(before, lm.adapter)
                        np.save(self.ctx.output / "delta_p.npy", delta)
                        ratio = self.delta_ratio()
                        result["delta_ratio"] = ratio
                        result["delta_n"] = neurons_json(changed_neurons(delta, ratio))
                        result["delta_max"] = float(delta.max())
                    write_json(result_file, result)
                    (work / key / "finetune_checkpoint.pt").unlink(missing_ok=True)
                    results[key] = result
                    start_state()
        finally:
            lm.model.load_state_dict(original)
        base = read_json(base_file) if base_file.is_file() else {}
        delta_n = neurons_from_json(results["All"].get("delta_n") or [])
        overlaps = {}
        for method in self.ctx.methods:
            overlaps[method] = {name: (None if s is None else overlap(s, delta_n))
                                for name, s in sets[method]["sets"].items()}
        write_json(target, {
            "facts": [f.id for f in self.ctx.facts], "methods": self.ctx.methods,
            "n_layers": lm.adapter.n_layers, "n_neurons": lm.adapter.n_neurons,
            "family": lm.adapter.family.name, "dropout_places": n_dropout,
            "incremental": {k: base.get(k) for k in ("epochs", "steps", "final_loss", "step_seconds")},
            "baselines": {"pre-trained": base.get("pretrained"), "incremental": base.get("incremental")},
            "sets": {m: {"facts": v["facts"], "facts_without_dkn": v["facts_without_dkn"],
                         "n_non_dkn_kns": v["n_non_dkn_kns"],
                         "sets": {k: None if s is None else neurons_json(s) for k, s in v["sets"].items()}}
                     for m, v in sets.items()},
            "settings": results, "overlaps": overlaps,
        })
        (work / "incremental" / "finetune_checkpoint.pt").unlink(missing_ok=True)

    # summary --------------------------------------------------------------------------------------
    def summarize(self, rows, output: Path) -> Summary:
        summary = Summary()
        path = output / "training.json"
        if not path.is_file():
            summary.tables["knowledge_update_accuracy"] = [
                {"setting": "(training not run: it starts once every fact of the run has finished)"}]
            return summary
        training = json.loads(path.read_text())
        table, per_fact, by_query = [], {}, {}

        def add_row(name, method, ev, extra):
            row = {"setting": name, "method": method}
            values = []
            for qt, metric in METRICS.items():
                keyed = query_values(ev, qt)
                items = list(keyed.values())
                value = 100 * float(np.mean(items)) if items else None
                row[qt] = value
                if value is not None:
                    values.append(value)
                    per_fact.setdefault(f"{method}:{name}", {})[metric] = items
                    by_query.setdefault(f"{method}:{name}", {})[metric] = keyed
                summary.metrics.append(metric_record(method, metric, None if value is None else value / 100,
                                                     len(items), group=name))
            row["Average"] = float(np.mean(values)) if len(values) == len(METRICS) else None
            summary.metrics.append(metric_record(method, "acc_average",
                                                 None if row["Average"] is None else row["Average"] / 100,
                                                 len(values), group=name))
            row.update(extra)
            table.append(row)

        for name, key in (("pre-trained", "pre-trained"), ("incremental", "incremental")):
            add_row(name, "none", training["baselines"].get(key), {"neurons": None, "steps": None})
        settings = training["settings"]
        for method in training["methods"]:
            for name in SETTING_ORDER:
                key = "All" if name == "All" else f"{method}-{name}"
                r = settings.get(key) or {}
                shown = "all" if name == "All" else method
                if name == "All" and method != training["methods"][0]:
                    continue
                if not r.get("available"):
                    table.append({"setting": label(name), "method": shown, "Qnew": "/", "Qold": "/",
                                  "Qau": "/", "Average": "/", "neurons": 0, "steps": None,
                                  "note": r.get("reason", "")})
                    continue
                timing = step_timing(r)
                add_row(label(name), shown, r.get("eval"), {"neurons": r.get("n_neurons"), "steps": r.get("steps"),
                                                            TIMING_KEYS[1]: timing[0].estimate if timing else None})
                if timing:  # 000 App. F.2: training time per setting, one CPU-seconds sample per step
                    summary.metrics.append(metric_record(shown, TIMING_METRICS[0], timing[0].estimate,
                                                         timing[1], group=label(name),
                                                         ci=(timing[0].low, timing[0].high), ci_method=CI_T))
        summary.tables["knowledge_update_accuracy"] = table
        summary.per_fact = per_fact
        # 000 Table 8: Θ(D) against the others, per query type, on per-query 0/1 correctness. The
        # paper's test is the independent t-test (App. G); both settings answer the same queries, so
        # the record also carries the paired reading (paired_t over the queries both answered)
        for method in training["methods"]:
            mine = by_query.get(f"{method}:{label('D')}")
            if not mine:
                continue
            for other, other_method in (("N", method), ("Rnd", method), ("All", "all")):
                theirs = by_query.get(f"{other_method}:{label(other)}") or {}
                for metric in METRICS.values():
                    a, b = mine.get(metric), theirs.get(metric)
                    if a and b and len(a) >= 2 and len(b) >= 2:
                        names = (f"{method}:{label('D')}", f"{other_method}:{label(other)}", metric)
                        record = compare_groups(list(a.values()), list(b.values()), *names)
                        paired = compare_paired(a, b, *names)
                        record.update({key: paired[key] for key in ("paired_t", "paired_p", "n_pairs")})
                        summary.comparisons.append(record)
        # overlaps (000 §4.1, Fig. 5)
        all_run = settings.get("All") or {}
        delta_n = neurons_from_json(all_run.get("delta_n") or [])
        degenerate = (delta_n_degenerate(len(delta_n), training["n_layers"] * training["n_neurons"],
                                         all_run.get("delta_ratio")) if all_run.get("available") else None)
        if degenerate:  # loud: on stderr now, and as the overlaps' 'undefined' reason in every reader
            warnings.warn(f"knowledge-update: overlaps undefined: {degenerate}")
        overlap_rows = []
        for method in training["methods"]:
            info = training["sets"][method]
            for name in ("D", "N", "Rnd"):
                neurons = info["sets"].get(name)
                value = training["overlaps"][method].get(name)
                overlap_rows.append({"set": name, "method": method,
                                     "size": None if neurons is None else len(neurons),
                                     "in ΔN": None if neurons is None else len(
                                         {tuple(n) for n in neurons} & set(delta_n)),
                                     "O(X, ΔN) %": None if value is None or degenerate else 100 * value,
                                     "|ΔN|": len(delta_n), "τ_ΔN ratio": all_run.get("delta_ratio"),
                                     **({"note": f"undefined: {degenerate}"} if degenerate else {})})
                summary.metrics.append(metric_record(method, "overlap", value,
                                                     0 if neurons is None else len(neurons), group=name,
                                                     undefined=degenerate if neurons is not None else None))
            summary.metrics.append(metric_record(method, "facts_without_dkn", info["facts_without_dkn"],
                                                 info["facts"]))
        summary.tables["overlap_with_delta_n"] = overlap_rows
        delta_file = output / "delta_p.npy"
        if delta_file.is_file():
            summary.tables["delta_p_distribution"] = [delta_p_distribution(np.load(delta_file),
                                                                           all_run.get("delta_ratio"))]
            summary.figures.append(heatmap(np.load(delta_file), delta_n, training, output / "delta_p_heatmap.png",
                                           int(self.options.get("heatmap_bins", 64))))
        return summary


def _binned(neurons, n_layers, n_neurons, bins):
    grid = np.zeros((n_layers, bins))
    for layer, index in neurons or []:
        grid[layer, min(bins - 1, index * bins // n_neurons)] += 1
    return grid


def heatmap(delta: np.ndarray, delta_n, training: dict, path: Path, bins: int) -> str:
    """000 Fig. 5: layer x neuron-bin maps of ΔP (mean per bin) and of the sets ΔN, D, N, Rnd."""
    from ..results.figures import _plt, _save, run_title

    plt = _plt()
    n_layers, n_neurons = delta.shape
    bins = max(1, min(bins, n_neurons))
    edges = np.linspace(0, n_neurons, bins + 1).astype(int)
    mean_dp = np.stack([[delta[l, edges[b]: edges[b + 1]].mean() for b in range(bins)] for l in range(n_layers)])
    method = training["methods"][0]
    sets = training["sets"][method]["sets"]
    share = len(delta_n or []) / delta.size if delta.size else 0.0
    degenerate = " — degenerate" if share > DELTA_N_MAX_SHARE else ""  # the overlaps are undefined then
    panels = [("ΔP (mean per bin)", mean_dp),
              (f"ΔN ({100 * share:.0f} % of neurons{degenerate})", _binned(delta_n, n_layers, n_neurons, bins))]
    panels += [(f"{name} ({method})", _binned(sets.get(name), n_layers, n_neurons, bins)) for name in ("D", "N", "Rnd")]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.6), sharey=True)
    for ax, (title, grid) in zip(axes, panels):
        image = ax.imshow(grid, aspect="auto", origin="lower", cmap="viridis",
                          extent=(0, n_neurons, -0.5, n_layers - 0.5))
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("neuron index")
        fig.colorbar(image, ax=ax, fraction=0.046)
    axes[0].set_ylabel("layer")
    fig.suptitle(run_title(f"000 Fig. 5: ΔP and the neuron sets ΔN, D, N, Rnd (τ_ΔN = "
                           f"{(training['settings'].get('All') or {}).get('delta_ratio')} x max ΔP)",
                           path, len(training.get("facts") or [])), fontsize=9)
    return _save(fig, path)
