"""``lifeevents``: the command line of spec/profile.md.

Exit codes: 0 done; 1 problems found (validate, fuzz); 2 bad input or usage, with a
one-line message naming the file, key path and problem — never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from engine.loader import CatalogueError, load_catalogue
from engine.profile import ProfileError, load_profile
from engine.rulesroot import rules_root

EVENTS = ("birth", "education", "employment", "moving", "business", "welfare")


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        raise UsageError(f"{self.prog}: {message}")


def catalogue_root(arg: str | None) -> Path:
    return rules_root(arg)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}")
    return int(text)


def _workers(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) <= 64:
        raise argparse.ArgumentTypeError(f"workers is a whole number from 1 to 64, got {text!r}")
    return int(text)


def _count(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) <= 10_000_000:
        raise argparse.ArgumentTypeError(f"a whole number from 1 to 10,000,000, got {text!r}")
    return int(text)


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
    srv = sub.add_parser("serve", help="the HTTP API (docs/api.md)")
    # Loopback by default: exposing the API is a deployment decision, not a default.
    srv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    srv.add_argument("--port", type=_port, default=8000, help="port (default 8000)")
    srv.add_argument("--workers", type=_workers, default=1, help="worker processes (default 1)")
    pw = sub.add_parser("staff-passwd", help="print a staff credential line (docs/staff.md)")
    pw.add_argument("user", help="the staff member's username")
    dif = sub.add_parser("diff", help="what changed between two rule trees, and who it affects")
    dif.add_argument("old", help="catalogue root before the change")
    dif.add_argument("new", help="catalogue root after the change")
    dif.add_argument("--population", type=_count, default=2000, help="synthetic people (default 2000)")
    dif.add_argument("--seed", type=int, default=0, help="population seed (default 0)")
    dif.add_argument(
        "--as-of",
        type=_date,
        dest="as_of",
        help="evaluate everyone at this date (default: the earliest dated value the change "
        "adds or alters, not before today)",
    )

    bat = sub.add_parser("batch", help="statuses of every profile of a CSV, JSON Lines or Parquet file")
    bat.add_argument("input", help="profiles: .csv or .parquet (dotted columns) or .jsonl")
    bat.add_argument("-o", "--output", required=True, help="statuses: .csv, .jsonl or .parquet")
    bat.add_argument("--as-of", type=_date, dest="as_of", help="evaluate every row at this date")
    bat.add_argument("--chunk-rows", type=_positive, default=200_000, help="rows per chunk (memory)")
    out = sub.add_parser(
        "outreach", help="who to visit: likely eligible for home-visit services not received"
    )
    out.add_argument("input", help="a register: .csv, .parquet or .jsonl")
    out.add_argument("-o", "--output", required=True, help="the list: .csv, .jsonl, .parquet or .html")
    out.add_argument("--html", help="also a printable HTML list, one section per residence and district")
    out.add_argument("--as-of", type=_date, dest="as_of")
    out.add_argument("--include-unknown", action="store_true", help="also list those whose status is unknown")
    out.add_argument("--chunk-rows", type=_positive, default=200_000)
    pop = sub.add_parser("population", help="a synthetic population of Taiwan (dotted profile columns)")
    pop.add_argument("-n", type=_positive, default=100_000, help="number of people")
    pop.add_argument("--seed", type=int, default=0)
    pop.add_argument("--as-of", type=_date, dest="as_of", default=date(2026, 3, 1))
    pop.add_argument("-o", "--output", required=True, help=".parquet or .csv")
    fz = sub.add_parser("fuzz", help="property checks on generated profiles, and rule coverage")
    fz.add_argument("--n", type=_count, default=2000, help="profiles to generate (default 2000)")
    fz.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a positive whole number: {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "validate":
            return cmd_validate(catalogue_root(args.dir or args.rules))
        if args.command == "recommend":
            return cmd_recommend(args)
        if args.command == "serve":
            return cmd_serve(args)
        if args.command == "staff-passwd":
            return cmd_staff_passwd(args)
        if args.command == "diff":
            return cmd_diff(args)

        if args.command in ("batch", "outreach", "population"):
            return _tabular(args)

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


def _case_problems(root: Path, services: list[str]) -> list[str]:
    """Every service has a test case, and every case file reads (file:line problems)."""
    from engine.cases import CaseFileError, services_without_cases
    from engine.rulesroot import cases_dir

    folder = cases_dir(root)
    if not folder.is_dir():
        return [f"{folder}:1: no test cases: every service needs cases under tests/cases/"]
    try:
        missing = services_without_cases(folder, services)
    except CaseFileError as exc:
        return [str(exc)]
    return [f"{root / 'catalog.yaml'}:1: {sid}: no test case checks this service" for sid in missing]


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

    lint = lint_catalogue(catalogue) + _case_problems(root, list(catalogue.services))
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


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn  # noqa: F401  (imported by serve; checked here for the message)

        from engine.api import serve
    except ImportError as exc:
        raise UsageError(
            f"lifeevents serve: the API needs its packages ({exc.name} is missing): pip install 'lifeevents[api]'"
        ) from None
    serve(catalogue_root(args.rules), args.host, args.port, args.workers)
    return 0


def cmd_staff_passwd(args: argparse.Namespace) -> int:
    """Print ``user:scrypt$salt$hash`` for the credential file; the password is never echoed."""
    import getpass

    from engine.staffauth import credential_line

    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.user}: ")
        if getpass.getpass("again: ") != password:
            raise UsageError("lifeevents staff-passwd: the passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        print(credential_line(args.user, password))
    except ValueError as exc:
        raise UsageError(f"lifeevents staff-passwd: {exc}") from None
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from engine.impact import effective_date, impact, population, render_impact, tree_diff

    old_root, new_root = Path(args.old), Path(args.new)
    for root in (old_root, new_root):
        if not (root / "catalog.yaml").is_file():
            raise UsageError(f"lifeevents diff: {root}: no catalog.yaml here")
    old, new = load_catalogue(old_root), load_catalogue(new_root)
    changed = tree_diff(old_root, new_root)
    print(f"{len(changed)} file(s) changed")
    for rel, added, removed in changed:
        print(f"  {rel}  +{added} -{removed}")
    as_of = args.as_of or effective_date(old, new, date.today())
    report = impact(old, new, population(args.population, args.seed, as_of))
    print()
    print(render_impact(report))
    return 0


def _tabular(args: argparse.Namespace) -> int:
    """The commands over files of many profiles; polars is imported only for them, so that
    ``recommend`` starts as fast as before."""
    from engine.batch import CompileError
    from engine.columns import FileError

    command = {"batch": cmd_batch, "outreach": cmd_outreach, "population": cmd_population}[args.command]
    try:
        return command(args)
    except FileError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except CompileError as exc:
        print(f"the rules do not compile for columns: {exc}", file=sys.stderr)
        return 2


def cmd_batch(args: argparse.Namespace) -> int:
    from engine.batch import input_format, run_batch

    source, target = Path(args.input), Path(args.output)
    input_format(source)  # bad extensions fail before the catalogue is loaded
    input_format(target)
    catalogue = load_catalogue(catalogue_root(args.rules))
    summary = run_batch(catalogue, source, target, as_of=args.as_of, chunk_rows=args.chunk_rows)
    counts = ", ".join(f"{k} {v:,}" for k, v in summary.statuses.items() if v)
    print(
        f"batch: {summary.rows:,} rows ({summary.invalid:,} invalid) × {len(catalogue.services)} services "
        f"in {summary.seconds:.1f} s → {target} ({counts})",
        file=sys.stderr,
    )
    return 0


def cmd_outreach(args: argparse.Namespace) -> int:
    from engine.batch import input_format
    from engine.outreach import run_outreach

    source, target = Path(args.input), Path(args.output)
    input_format(source)
    catalogue = load_catalogue(catalogue_root(args.rules))
    summary = run_outreach(
        catalogue,
        source,
        target,
        html=Path(args.html) if args.html else None,
        as_of=args.as_of,
        include_unknown=args.include_unknown,
        chunk_rows=args.chunk_rows,
    )
    print(
        f"outreach: {summary.listed:,} of {summary.rows:,} people to visit ({summary.invalid:,} invalid rows) "
        f"for {summary.services} home-visit service(s) → {target}",
        file=sys.stderr,
    )
    return 0


def cmd_population(args: argparse.Namespace) -> int:
    import polars as pl

    from engine.columns import write_error
    from engine.population import csv_ready, generate_population

    target = Path(args.output)
    if target.suffix.lower() not in (".parquet", ".csv"):
        raise UsageError(f"{target}: the population is written as .parquet or .csv")
    frame = generate_population(args.n, seed=args.seed, as_of=args.as_of)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.suffix.lower() == ".csv":
            csv_ready(frame).write_csv(target)
        else:
            frame.write_parquet(target)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise write_error(target, exc) from None
    print(
        f"population: {frame.height:,} people, seed {args.seed}, as of {args.as_of} → {target}",
        file=sys.stderr,
    )
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
