"""`dknbench reproduce --paper dkn|amig|ql|kn-thesis --model M --preset cpu [--limit N] [--output DIR] [--tasks T,...]`

``--report-only`` computes nothing: it rewrites ``DIR.md`` (and, for ``docs/results/<paper>``, the
claims summary atop ``docs/results/README.md``) from the run folders ``DIR/<task>/``.
"""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("reproduce", help="run one paper's tasks and write a reproduction report",
                              description="Run the tasks of one paper (000 dkn, 002 amig, 003 ql) and write "
                                          "report.md/report.html: the paper's tables, our numbers beside its "
                                          "reference numbers, and whether each claim's direction holds.")
    p.add_argument("--paper", required=True, help="dkn (000), amig (002), ql (003) or kn-thesis (004)")
    p.add_argument("--model", default="smollm2-135m", help="embedded model name, local folder or Hub id")
    p.add_argument("--preset", default="cpu", help="option preset of every task (default: cpu)")
    p.add_argument("--limit", type=int, default=None, help="at most N facts per task")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--output", default=None, help="report folder (default: reproduce/<paper>)")
    p.add_argument("--tasks", default=None, help="comma-separated: run only these tasks of the paper "
                                                  "(e.g. its cheapest ones on another model)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument("--report-only", action="store_true",
                   help="compute nothing: write OUTPUT.md (claims, verdicts, run records) from the run folders "
                        "OUTPUT/<task>/; for docs/results/<paper> also the summary atop docs/results/README.md")
    p.set_defaults(func=main)


def check_inputs(args) -> None:
    """What `run` refuses up front (exit 2, nothing written) is refused here before any task
    starts, instead of failing every task and leaving a report of failures behind."""
    from ..errors import ConfigError
    from ..harness.spec import MAX_SEED
    from ..io import check_output_name

    if not 0 <= args.seed < MAX_SEED:
        raise ConfigError(f"--seed must be in [0, {MAX_SEED - 1}], got {args.seed}")
    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit must be >= 1, got {args.limit}")
    if args.output is not None:
        check_output_name(args.output)
    check_model(args.model)


def check_model(name: str) -> None:
    """The model exists: an embedded or tiny name, else its config loads (a local folder's
    config.json, or a Hub id's from the Hub or its cache) without loading any weight."""
    from ..errors import DKNBenchError
    from ..models import EMBEDDED_MODELS
    from ..models.loading import MODEL_FORMS, TINY_MODELS

    if not name.strip():
        raise DKNBenchError("--model is empty; give an embedded model name, a local folder or a Hub id")
    if name in EMBEDDED_MODELS or name in TINY_MODELS:
        return
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(name)
    except (OSError, ValueError) as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise DKNBenchError(f"--model {name!r}: cannot load its config ({first}); {MODEL_FORMS}") from None


def main(args) -> int:
    from ..reproduce import load_claims, paper_plan, run_paper

    claims = load_claims()
    paper_plan(args.paper, claims)  # unknown paper -> one-line error before any work
    if args.report_only:
        from ..reproduce.pages import write_reports

        report, readme = write_reports(args.paper, args.output or f"reproduce/{args.paper}", claims)
        print(f"report: {report}" + (f"; claims summary: {readme}" if readme else ""))
        return 0
    check_inputs(args)
    only = None if args.tasks is None else [t.strip() for t in args.tasks.split(",") if t.strip()]
    done = run_paper(args.paper, model=args.model, preset=args.preset, limit=args.limit,
                     output=args.output or f"reproduce/{args.paper}", seed=args.seed, quiet=args.quiet, only=only)
    path = done.report
    print(path.read_text(encoding="utf-8"))
    print(f"report: {path} and {path.with_suffix('.html')}")
    if done.failed:  # the report lists them too; a script must not take the run for a success
        print(f"dknbench: reproduce: task(s) failed: {', '.join(done.failed)}; see {path}", file=sys.stderr)
        return 1
    if done.nothing_usable:  # the harness's exit 3, with each task's reason
        from ..errors import NothingUsable

        reasons = "; ".join(f"{o.task}: {o.error}" for o in done.outcomes if o.status == "nothing usable")
        print(f"dknbench: reproduce: no task had a usable fact ({reasons}); see {path}", file=sys.stderr)
        return NothingUsable.exit_code
    return 0
