"""``lifeevents``: the command line of spec/profile.md.

Exit codes: 0 done; 1 problems found (validate, fuzz); 2 bad input or usage, with a
one-line message naming the file, key path and problem — never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date
from pathlib import Path

from engine.loader import CatalogueError, load_catalogue
from engine.profile import ProfileError, load_profile

DEFAULT_ROOT = Path(__file__).resolve().parent.parent
EVENTS = ("birth", "education", "employment", "moving", "business", "welfare")


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        raise UsageError(f"{self.prog}: {message}")


def catalogue_root(arg: str | None) -> Path:
    return Path(arg or os.environ.get("LIFEEVENTS_ROOT") or DEFAULT_ROOT)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lifeevents", description=__doc__.splitlines()[0])
    parser.add_argument("--rules", metavar="DIR", help="catalogue root (holds catalog.yaml and rules/)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    rec = sub.add_parser("recommend", help="every service a profile may use, with reasons")
    rec.add_argument("profile", help="profile file (JSON or YAML)")
    rec.add_argument("--event", choices=EVENTS)
    rec.add_argument("--as-of", type=_date, dest="as_of")
    rec.add_argument("--lang", choices=("zh-TW", "en"), default="en")
    rec.add_argument("--json", action="store_true", help="print the JSON of the contract")
    val = sub.add_parser("validate", help="check catalog.yaml and rules/")
    val.add_argument("dir", nargs="?", help="catalogue root (default: this repository)")
    fz = sub.add_parser("fuzz", help="property checks on generated profiles, and rule coverage")
    fz.add_argument("--n", type=_count, default=2000, help="profiles to generate (default 2000)")
    fz.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    return parser


def _count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "validate":
            return cmd_validate(catalogue_root(args.dir or args.rules))
        if args.command == "recommend":
            return cmd_recommend(args)
        if args.command == "fuzz":
            return cmd_fuzz(args)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except ProfileError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except CatalogueError as exc:
        print(f"the rules do not load: {exc.problems[0]} (run 'lifeevents validate')", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: still one line, never a traceback (profile.md)
        print(f"lifeevents: internal error, please report it: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    return 2


def cmd_validate(root: Path) -> int:
    if not (root / "catalog.yaml").is_file():
        print(f"{root}: no catalog.yaml here", file=sys.stderr)
        return 2
    try:
        catalogue = load_catalogue(root)
    except CatalogueError as exc:
        for problem in exc.problems:
            print(problem)
        return 1
    from engine.recommend import Engine

    try:
        engine = Engine(catalogue)
    except ValueError as exc:
        print(f"{root / 'rules'}:1: the rules do not compile: {exc}")
        return 1
    from engine.lint import lint_catalogue

    lint = lint_catalogue(catalogue)
    if lint:
        for problem in lint:
            print(problem)
        return 1
    n_rules = sum(len(layer) for layer in catalogue.rules.values())
    print(
        f"ok: {len(catalogue.services)} services, {n_rules} rule files, "
        f"{len(catalogue.parameters)} parameters, {engine.plan.rule_count} durable rules "
        f"(rules version {catalogue.version})"
    )
    return 0


def cmd_recommend(args: argparse.Namespace) -> int:
    from engine.recommend import Engine

    profile = load_profile(args.profile)
    catalogue = load_catalogue(catalogue_root(args.rules))
    engine = Engine(catalogue)
    result = engine.recommend(profile, as_of=args.as_of, event=args.event, lang=args.lang)
    if args.json:
        print(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2))
    else:
        from engine.report import render_table

        print(render_table(result, catalogue, args.lang))
    return 0


def cmd_fuzz(args: argparse.Namespace) -> int:
    """Exit 0 when every property held and every criterion was seen both ways, else 1.

    The run happens in a child process (engine.fuzz.run_fuzz_isolated): when the C rule
    engine crashes on a profile, the report shows that profile, shrunk, instead of dying."""
    from engine.fuzz import run_fuzz_isolated

    root = catalogue_root(args.rules)
    load_catalogue(root)  # bad rules: the usual one-line error and exit 2, before the run
    tty = sys.stderr.isatty()

    def progress(done: int, total: int, stage: str) -> None:
        text = f"{done}/{total} {stage}" if total else stage
        if tty:
            print(f"\r{text:<70}", end="", file=sys.stderr, flush=True)
        elif not total or done % max(1, total // 10) == 0:  # a log: one line per tenth
            print(f"fuzz: {text}", file=sys.stderr, flush=True)

    report = run_fuzz_isolated(root, args.n, args.seed, progress)
    if tty:
        print("\r" + " " * 70 + "\r", end="", file=sys.stderr)
    print(report.render())
    return 0 if report.ok else 1
