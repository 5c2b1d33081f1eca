"""``lifeevents``: the command line of spec/profile.md.

Exit codes: 0 done; 1 problems found (validate, fuzz); 2 bad input or usage, with a
one-line message naming the file, key path and problem — never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import gc
import os
import re
import signal
import sys
import threading
import types
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

# The command answers in a fresh process, where pydantic's first validator would scan
# every installed distribution's entry points for pydantic plugins (a few ms of each
# answer); lifeevents uses none. Set before the models below are built; a value the user
# set (even empty, which turns the scan back on) is kept.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

_PLUGIN_LOADER = "pydantic.plugin._loader"
_PLUGINS_OFF = ("__all__", "1", "true")  # the values pydantic's loader reads as "none"


def _plugins_off_without_metadata() -> None:
    """Even with its plugins off, pydantic imports its plugin loader with the first
    validator, and the loader imports ``importlib.metadata`` (email, zipfile, socket…):
    about 15 ms of every answer, for a scan that is then skipped. Until the loader is
    imported, a stand-in answers as it would: no plugins while the variable turns them
    off, checked at every call as the loader does; the first call that finds them on
    imports the real loader in its place and answers from it (tests/test_cli.py)."""
    if _PLUGIN_LOADER in sys.modules:
        return
    stand_in = types.ModuleType(_PLUGIN_LOADER, "pydantic's plugin loader, until plugins are on")

    def get_plugins() -> Any:
        if os.environ.get("PYDANTIC_DISABLE_PLUGINS") in _PLUGINS_OFF:
            return ()
        if sys.modules.get(_PLUGIN_LOADER) is stand_in:
            del sys.modules[_PLUGIN_LOADER]
        import importlib

        return importlib.import_module(_PLUGIN_LOADER).get_plugins()

    stand_in.get_plugins = get_plugins  # type: ignore[attr-defined]
    sys.modules[_PLUGIN_LOADER] = stand_in


_plugins_off_without_metadata()


@contextlib.contextmanager
def long_lived() -> Iterator[None]:
    """Make objects that live as long as the process (modules, classes and their pydantic
    validators, the loaded catalogue) without the cyclic garbage collector walking them
    again and again while they are made, then leave them out of its walks (gc.freeze, as
    the Engine does for its compiled catalogue): about 10 ms of a one-off answer."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if collecting:
            gc.enable()


# A light module (it imports the engine's models only where it reads a catalogue): it
# keeps the code that dataclasses and typing compile from text while the command starts.
from engine.language.cache import compiled_code_kept  # noqa: E402

with long_lived(), compiled_code_kept():
    from engine.language.catalog import EVENTS
    from engine.language.i18n import languages
    from engine.language.messages import shown
    from engine.language.profile import EARLIEST_DATE, LATEST_DATE, ProfileError, load_profile
    from engine.language.rulesroot import rules_root
    from engine.language.yamlsafe import CatalogueError

if TYPE_CHECKING:
    from engine.language.catalog import Catalogue
    from engine.services.results import Recommendation


class UsageError(Exception):
    pass


class Terminated(BaseException):
    """SIGTERM, raised where the program is (as Ctrl-C raises KeyboardInterrupt), so that
    every ``finally`` runs and no half-written output is left (engine.services.outputs)."""


# The signal that interrupted the running command, if one did. A signal handler raises
# where the program is; when that is inside a library's callback, the library may turn
# the exception into one of its own (polars: "TypeError: … is not a Polars data type",
# seen once in a full test run), which must still end the command as the signal does.
_SIGNALLED: list[int] = []


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """While the block runs, SIGTERM raises :class:`Terminated` instead of killing the
    process on the spot, and Ctrl-C raises KeyboardInterrupt as usual; both are noted in
    ``_SIGNALLED``. Signal handlers can only be set in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _SIGNALLED.clear()  # a command run before this one in the same process

    def terminate(signum: int, frame: Any) -> None:
        _SIGNALLED.append(signum)
        raise Terminated()

    def interrupt(signum: int, frame: Any) -> None:
        _SIGNALLED.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, terminate)
    # Only where Ctrl-C already raises: a shell's background job ignores SIGINT.
    previous_int = signal.getsignal(signal.SIGINT)
    if previous_int is signal.default_int_handler:
        signal.signal(signal.SIGINT, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        if previous_int is signal.default_int_handler:
            signal.signal(signal.SIGINT, previous_int)


class _Languages(Sequence[str]):
    """The choices of ``--lang`` (engine/data/languages.yaml), read when argparse first
    looks at them: when --lang is given, for --help or an error. An answer in the default
    language reads them from the catalogue cache, or not at all. (Its options name a
    metavar: argparse would otherwise list the choices as soon as they are added.)"""

    def __getitem__(self, index: Any) -> Any:
        return tuple(languages())[index]

    def __len__(self) -> int:
        return len(languages())


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2
        raise UsageError(f"{self.prog}: {shown(message, 300)}")  # argparse quotes a bad value whole


def _date(text: str) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {shown(text)!r}") from None
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise argparse.ArgumentTypeError(f"a date from {EARLIEST_DATE} to {LATEST_DATE}, got {text}")
    return day


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
    rec.add_argument(
        "--lang",
        choices=_Languages(),
        default="en",
        metavar="LANG",  # argparse would list the choices when the option is added
        help="the language of the answer: %(choices)s (default %(default)s)",
    )
    rec.add_argument("--json", action="store_true", help="print the JSON of the contract")
    rec.add_argument(
        "--no-cache",
        action="store_false",
        dest="cache",
        help="read the rules anew, not from the checked cache (also LIFEEVENTS_NO_CACHE=1)",
    )
    val = sub.add_parser("validate", help="check catalog.yaml and rules/")
    val.add_argument("dir", nargs="?", help="catalogue root (default: this repository)")
    srv = sub.add_parser("serve", help="the HTTP API (docs/api.md)")
    # Loopback by default: exposing the API is a deployment decision, not a default.
    srv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    srv.add_argument("--port", type=_port, default=8000, help="port (default 8000)")
    srv.add_argument("--workers", type=_workers, default=1, help="worker processes (default 1)")
    srv.add_argument(
        "--request-timeout", type=_seconds, help="seconds for a request to arrive whole (default 10)"
    )
    srv.add_argument("--max-connections", type=_positive, help="open connections per worker (default 1000)")
    srv.add_argument(
        "--no-metrics", action="store_false", dest="metrics", help="no /metrics (Prometheus) and no measuring"
    )
    srv.add_argument(
        "--no-access-log", action="store_false", dest="access_log", help="no JSON line per request"
    )
    srv.add_argument(
        "--root-path",
        type=_root_path,
        default="",
        help="the prefix a reverse proxy serves the API under, e.g. /api",
    )
    pw = sub.add_parser("staff-passwd", help="print a staff credential line (docs/staff.md)")
    pw.add_argument("user", help="the staff member's username")
    dif = sub.add_parser("diff", help="what changed between two rule trees, and who it affects")
    dif.add_argument("old", help="catalogue root before the change")
    dif.add_argument(
        "new", nargs="+", help="catalogue root after the change; several: scenarios weighed in one pass"
    )
    dif.add_argument(
        "--spark",
        metavar="MASTER",
        help="screen on Spark (local[2], spark://HOST:7077, yarn…; needs lifeevents[spark]: docs/scale.md)",
    )
    dif.add_argument("--population", type=_count, default=2000, help="synthetic people (default 2000)")
    dif.add_argument("--seed", type=_seed, default=0, help="population seed (default 0)")
    dif.add_argument(
        "--as-of",
        type=_date,
        dest="as_of",
        help="evaluate everyone at this date (default: the earliest dated value the change "
        "adds or alters, not before today; with several scenarios the latest of theirs)",
    )

    bat = sub.add_parser("batch", help="statuses of every profile of a CSV, JSON Lines or Parquet file")
    bat.add_argument("input", help="profiles: .csv or .parquet (dotted columns) or .jsonl")
    bat.add_argument("-o", "--output", required=True, help="statuses: .csv, .jsonl or .parquet")
    bat.add_argument("--as-of", type=_date, dest="as_of", help="evaluate every row at this date")
    bat.add_argument("--chunk-rows", type=_positive, default=200_000, help="rows per chunk (memory)")
    bat.add_argument(
        "--shard",
        type=_shard,
        metavar="I/N",
        help="screen only part I of N (from 1) of the rows: the N outputs one after another are the whole run's",
    )
    out = sub.add_parser(
        "outreach", help="who to visit: likely eligible for home-visit services not received"
    )
    out.add_argument("input", help="a register: .csv, .parquet or .jsonl")
    out.add_argument("-o", "--output", help="the list: .csv, .jsonl, .parquet or .html")
    out.add_argument(
        "--to", metavar="DB_URL", help="upsert the cases into a worklist database (a file path or "
        "SQLAlchemy URL; the register needs a person_id column: docs/home-visits.md)"
    )  # fmt: skip
    out.add_argument("--html", help="also a printable HTML list, one section per residence and district")
    out.add_argument("--as-of", type=_date, dest="as_of")
    out.add_argument("--include-unknown", action="store_true", help="also list those whose status is unknown")
    out.add_argument(
        "--lang",
        choices=_Languages(),
        default="en",
        metavar="LANG",
        help="the language of the needs and the HTML list: %(choices)s (default %(default)s)",
    )
    out.add_argument("--chunk-rows", type=_positive, default=200_000)
    pop = sub.add_parser("population", help="a synthetic population of Taiwan (dotted profile columns)")
    pop.add_argument("-n", type=_positive, default=100_000, help="number of people")
    pop.add_argument("--seed", type=_seed, default=0)
    pop.add_argument("--as-of", type=_date, dest="as_of", default=date(2026, 3, 1))
    pop.add_argument("-o", "--output", required=True, help=".parquet or .csv")
    pop.add_argument(
        "--no-partners", action="store_false", dest="partners", help="leave out the partner.* columns"
    )
    wl = sub.add_parser("worklist", help="the home-visit worklist database (docs/home-visits.md)")
    wl.add_argument(
        "--db", metavar="DB_URL", help="file path or SQLAlchemy URL (default $LIFEEVENTS_WORKLIST)"
    )
    wls = wl.add_subparsers(dest="worklist_command", required=True, parser_class=_Parser)
    for name, text in (("assign", "give a worker a district"), ("unassign", "take a district from a worker")):
        a = wls.add_parser(name, help=text)
        a.add_argument("user", help="the worker's staff username")
        a.add_argument("residence", help="city or county, as the profile's residence (taipei, hualien…)")
        a.add_argument("district", help="the district or township, as the register's district column")
    sup = wls.add_parser("supervisor", help="let a staff member see the supervisor's view")
    sup.add_argument("user")
    sup.add_argument("--remove", action="store_true", help="take the supervisor's view away")
    wls.add_parser("districts", help="list who works where")
    pur = wls.add_parser("purge", help="delete closed cases after the retention period")
    pur.add_argument("--older-than", type=_days, required=True, metavar="DAYS", dest="older_than")
    sch = sub.add_parser("schema", help="the JSON Schema of a rule file, for editors (docs/rule-language.md)")
    sch.add_argument("--output", type=Path, help="write it to this file (default: standard output)")
    fz = sub.add_parser("fuzz", help="property checks on generated profiles, and rule coverage")
    fz.add_argument("--n", type=_count, default=2000, help="profiles to generate (default 2000)")
    fz.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    return parser


def _days(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"a number of days (0 or more), got {text!r}")
    return int(text)


MAX_ROWS = 100_000_000  # rows per chunk, people generated: far above Taiwan's 23 million


def _root_path(text: str) -> str:
    # It is written into the documentation pages' URLs: a path and nothing else.
    if text and not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", text):
        raise argparse.ArgumentTypeError(f"a path such as /api (letters, digits, ._~-), got {shown(text)!r}")
    return text


def _shard(text: str) -> Any:
    from engine.services.batch import Shard

    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit() and len(text) <= 20 and 1 <= int(index) <= int(count)):
        raise argparse.ArgumentTypeError(f"a part I/N with 1 ≤ I ≤ N (1/4 … 4/4), got {shown(text)!r}")
    return Shard(int(index), int(count))


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"seconds, more than 0 and at most 3600, got {text!r}")
    return value


def _positive(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) <= MAX_ROWS:
        raise argparse.ArgumentTypeError(f"a whole number from 1 to {MAX_ROWS:,}, got {shown(text)!r}")
    return int(text)


def _seed(text: str) -> int:
    # numpy's generators take a seed from 0 up; -1 was an internal error.
    if not text.isdigit() or len(text) > 40:
        raise argparse.ArgumentTypeError(f"a whole number from 0 up, got {shown(text)!r}")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "validate":
            return cmd_validate(rules_root(args.dir or args.rules))
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
        if args.command == "schema":
            return cmd_schema(args)
        if args.command == "worklist":
            return cmd_worklist(args)
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
    except Terminated:
        return 128 + signal.SIGTERM
    except Exception as exc:  # a bug: still one line, never a traceback (profile.md)
        if _SIGNALLED:  # a signal's exception, renamed by a library on its way out
            return 128 + _SIGNALLED[0]
        print(f"lifeevents: internal error, please report it: {_internal_error(exc)}", file=sys.stderr)
        return 2
    return 2


def _internal_error(exc: BaseException) -> str:
    """A bug's exception in one line. A database driver's error wrapped by SQLAlchemy is
    given without the statement and its values (people's ids, places and services), and
    without the driver's DETAIL lines (PostgreSQL repeats the offending key there)."""
    driver = getattr(exc, "orig", None)
    if hasattr(exc, "statement") and isinstance(driver, BaseException):
        exc = driver  # sqlalchemy.exc.StatementError, recognised without importing SQLAlchemy
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


# Commands after which the process may end at once (run): set by the command itself.
_ENDS_AT_ONCE: list[bool] = []


def run() -> None:
    """The ``lifeevents`` command (and ``python -m engine``): main, then the end of the
    process. After ``recommend`` the output is flushed and the process ends at once,
    without the interpreter's teardown, which frees every module and object one by one:
    ~10 ms of a 0.2 s answer, for nothing the answer needs (it registers no atexit
    handler and leaves no temporary file; the cache is written and renamed before it
    answers). Any other command, or an output that cannot be flushed (a closed pipe),
    ends as before, through sys.exit."""
    _ENDS_AT_ONCE.clear()
    code = main()
    if _ENDS_AT_ONCE:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):  # a closed pipe or stream: the usual exit reports it
            pass
        else:
            os._exit(code)
    sys.exit(code)


def load_catalogue(root: Path) -> Catalogue:
    """engine.language.loader's, imported when a command reads the rules anew: the YAML
    reading and checking is not imported when ``recommend`` finds them in the cache."""
    from engine.language.loader import load_catalogue as load

    return load(root)


def _case_problems(root: Path, services: list[str]) -> list[str]:
    """Every service has a test case, and every case file reads (file:line problems)."""
    from engine.language.rulesroot import cases_dir
    from engine.services.cases import CaseFileError, services_without_cases

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
    from engine.services.recommend import Engine

    try:
        engine = Engine(catalogue)
    except ValueError as exc:
        print(f"{root / 'rules'}:1: the rules do not compile: {exc}")
        return 1
    from engine.services.lint import lint_catalogue

    lint = lint_catalogue(catalogue) + _case_problems(root, list(catalogue.services))
    if lint:
        for line in lint:
            print(line)
        return 1
    n_rules = sum(len(layer) for layer in catalogue.rules.values())
    print(
        f"ok: {len(catalogue.services)} services, {n_rules} rule files, "
        f"{len(catalogue.parameters)} parameters, {engine.plan.rule_count} durable rules "
        f"(rules version {catalogue.version})"
    )
    return 0


def cmd_recommend(args: argparse.Namespace) -> int:
    with long_lived(), compiled_code_kept() if args.cache else contextlib.nullcontext():
        from engine.services.recommend import Engine

    profile = load_profile(args.profile)
    root = rules_root(args.rules)
    if args.cache:
        # The same catalogue, read back when no rule or code file has changed
        # (engine/language/cache.py): most of a one-off answer's time was the reading.
        with long_lived():
            from engine.language.cache import load_catalogue_cached

            catalogue = load_catalogue_cached(root)
    else:
        catalogue = load_catalogue(root)
    engine = Engine(catalogue)
    if args.cache:  # Babel's data of the answer's locale, from the cache as the catalogue
        from engine.language.cache import locale_data_kept
        from engine.language.i18n import language

        locale_data_kept(language(args.lang).locale)
    result = engine.recommend(profile, as_of=args.as_of, event=args.event, lang=args.lang)
    if args.json:
        print(contract_json(result))
    else:
        from engine.services.report import render_table

        print(render_table(result, catalogue, args.lang))
    _ENDS_AT_ONCE.append(True)
    return 0


def contract_json(result: Recommendation) -> str:
    """The JSON of the contract, as ``json.dumps(result.model_dump(mode="json"),
    ensure_ascii=False, indent=2)`` writes it, by pydantic's serializer: the same text
    (tests/test_cli.py compares the two for every case) in a fifth of the time, since
    json.dumps indents in Python."""
    return result.model_dump_json(indent=2)


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn  # noqa: F401  (imported by serve; checked here for the message)

        from engine.interfaces.api import serve
    except ImportError as exc:
        raise UsageError(
            f"lifeevents serve: the API needs its packages ({exc.name} is missing): pip install 'lifeevents[api]'"
        ) from None
    check_can_listen(args.host, args.port)
    serve(
        rules_root(args.rules),
        args.host,
        args.port,
        args.workers,
        args.request_timeout,
        args.max_connections,
        metrics=args.metrics,
        access_log=args.access_log,
        root_path=args.root_path,
    )
    return 0


def check_can_listen(host: str, port: int) -> None:
    """UsageError naming the problem when ``host:port`` cannot be listened on (a port in
    use was uvicorn's log line and exit 1). uvicorn binds again just after: a port taken
    in between still fails, as before."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise UsageError(f"lifeevents serve: cannot listen on {shown(host)!r}: {exc}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UsageError(f"lifeevents serve: port {port} is in use (on {host})") from None
            raise UsageError(f"lifeevents serve: cannot listen on {host}:{port}: {exc.strerror}") from None


def cmd_staff_passwd(args: argparse.Namespace) -> int:
    """Print ``user:scrypt$N$r$p$salt$hash`` for the credential file; the password is never
    echoed, and one ASVS 2.1 does not allow is refused (engine/services/staffauth.py)."""
    import getpass

    from engine.services.staffauth import credential_line

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
    """One scenario: the files changed and its impact, as always. Several: the same for
    each, on one population screened in one pass, then the scenarios side by side."""
    from engine.interfaces.progress import progress_bar
    from engine.services.impact import (
        effective_date,
        impact_scenarios,
        population,
        render_impact,
        render_scenarios,
        tree_diff,
    )

    old_root, new_roots = Path(args.old), [Path(p) for p in args.new]
    for root in (old_root, *new_roots):
        if not (root / "catalog.yaml").is_file():
            raise UsageError(f"lifeevents diff: {root}: no catalog.yaml here")
    if len(set(args.new)) != len(args.new):
        raise UsageError("lifeevents diff: a scenario is given twice")
    # Steps, not rows: the screening is one column-wise pass (engine.services.impact).
    with progress_bar("diff: loading the rule trees", 3, "step") as bar:
        old = load_catalogue(old_root)
        scenarios = {name: load_catalogue(root) for name, root in zip(args.new, new_roots, strict=True)}
        today = date.today()
        as_of = args.as_of or max(effective_date(old, new, today) for new in scenarios.values())
        bar.update()
        bar.set_description(f"diff: generating {args.population:,} people")
        people = population(args.population, args.seed, as_of)
        bar.update()
        bar.set_description("diff: screening them under every rule tree")
        with _verdict_runner(args.spark) as runner:
            reports = impact_scenarios(old, scenarios, people, verdicts=runner)
        bar.update()
    if args.spark:
        for report in reports.values():
            report.notes.insert(
                0, f"screened on Spark ({args.spark}), every rule tree in one mapInArrow pass"
            )
    for name, new_root in zip(args.new, new_roots, strict=True):
        changed = tree_diff(old_root, new_root)
        if len(scenarios) > 1:
            print(f"== {name}")
        print(f"{len(changed)} file(s) changed")
        for rel, added, removed in changed:
            print(f"  {rel}  +{added} -{removed}")
        print()
        print(render_impact(reports[name]))
        if len(scenarios) > 1:
            print()
    if len(scenarios) > 1:
        print(render_scenarios(reports))
    return 0


@contextlib.contextmanager
def _verdict_runner(master: str | None) -> Iterator[Any]:
    """None (this machine), or Spark's runner on a session at ``master``, stopped after."""
    if master is None:
        yield None
        return
    try:
        from pyspark.sql import SparkSession

        from engine.interfaces.spark import scenario_verdicts
    except ImportError as exc:
        raise UsageError(
            f"lifeevents diff --spark: Spark needs its packages ({exc.name} is missing): pip install 'lifeevents[spark]'"
        ) from None
    if master.startswith("local"):  # the workers are this machine's: this Python, with this package
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = SparkSession.builder.master(master).appName("lifeevents diff").getOrCreate()
    try:
        yield scenario_verdicts(session)
    finally:
        session.stop()


def _tabular(args: argparse.Namespace) -> int:
    """The commands over files of many profiles; polars is imported only for them, so that
    ``recommend`` starts as fast as before."""
    from engine.services.batch import CompileError
    from engine.services.columns import FileError

    command = {"batch": cmd_batch, "outreach": cmd_outreach, "population": cmd_population}[args.command]
    try:
        with sigterm_raises():
            return command(args)
    except FileError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except CompileError as exc:
        print(f"the rules do not compile for columns: {exc}", file=sys.stderr)
        return 2


def cmd_batch(args: argparse.Namespace) -> int:
    from engine.interfaces.progress import AroundTheBar, count_rows, is_terminal, progress_bar
    from engine.services.batch import input_format, run_batch
    from engine.services.outputs import check_readable, refuse_overwriting_input

    source, target = Path(args.input), Path(args.output)
    input_format(source)  # bad files fail before the catalogue is loaded
    input_format(target)
    check_readable(source)
    refuse_overwriting_input([source], [target])
    catalogue = load_catalogue(rules_root(args.rules))
    with progress_bar(
        "batch", count_rows(source) if is_terminal() and args.shard is None else None, "rows"
    ) as bar:
        summary = run_batch(
            catalogue,
            source,
            target,
            as_of=args.as_of,
            chunk_rows=args.chunk_rows,
            err=AroundTheBar(sys.stderr),  # type: ignore[arg-type]
            progress=bar.update,
            shard=args.shard,
        )
    counts = ", ".join(f"{k} {v:,}" for k, v in summary.statuses.items() if v)
    print(
        f"batch: {summary.rows:,} rows ({summary.invalid:,} invalid) × {len(catalogue.services)} services "
        f"in {summary.seconds:.1f} s → {target} ({counts})",
        file=sys.stderr,
    )
    return 0


def cmd_outreach(args: argparse.Namespace) -> int:
    from engine.interfaces.progress import AroundTheBar, count_rows, is_terminal, progress_bar
    from engine.services.batch import input_format
    from engine.services.outputs import check_readable, refuse_overwriting_input
    from engine.services.outreach import run_outreach

    if args.output is None and args.to is None:
        raise UsageError("lifeevents outreach: give -o OUTPUT, --to DB_URL, or both")
    if args.to is not None:
        _outreach_to_worklist(args)
    if args.output is None:
        return 0
    source, target = Path(args.input), Path(args.output)
    input_format(source)
    check_readable(source)
    html = Path(args.html) if args.html and Path(args.html) != target else None
    refuse_overwriting_input([source], [target, *([html] if html else [])])
    catalogue = load_catalogue(rules_root(args.rules))
    with progress_bar("outreach", count_rows(source) if is_terminal() else None, "rows") as bar:
        summary = run_outreach(
            catalogue,
            source,
            target,
            html=Path(args.html) if args.html else None,
            as_of=args.as_of,
            include_unknown=args.include_unknown,
            chunk_rows=args.chunk_rows,
            err=AroundTheBar(sys.stderr),  # type: ignore[arg-type]
            progress=bar.update,
            lang=args.lang,
        )
    print(
        f"outreach: {summary.listed:,} of {summary.rows:,} people to visit ({summary.invalid:,} invalid rows) "
        f"for {summary.services} home-visit service(s) → {target}",
        file=sys.stderr,
    )
    return 0


def _worklist_module():
    try:
        import engine.services.worklist as worklist
    except ImportError as exc:
        raise UsageError(
            f"lifeevents: the worklist needs its packages ({exc.name} is missing): pip install 'lifeevents[worklist]'"
        ) from None
    return worklist


def _outreach_to_worklist(args: argparse.Namespace) -> None:
    from engine.services.batch import input_format

    _worklist_module()
    from engine.services.worklist import WorklistError, WorklistUnavailable, open_store
    from engine.services.worklist_screen import run_outreach_to_worklist

    source = Path(args.input)
    input_format(source)
    catalogue = load_catalogue(rules_root(args.rules))
    try:
        store = open_store(args.to)
    except WorklistError as exc:
        raise UsageError(f"lifeevents outreach --to: {exc}") from None
    try:
        summary, counts = run_outreach_to_worklist(
            catalogue, source, store, as_of=args.as_of, include_unknown=args.include_unknown,
            chunk_rows=args.chunk_rows,
        )  # fmt: skip
    except WorklistUnavailable as exc:  # the database's fault, not the register's: it names the database
        raise UsageError(f"lifeevents outreach --to: {exc}") from None
    except WorklistError as exc:
        raise UsageError(f"lifeevents outreach --to: {source}: {exc}") from None
    finally:
        store.close()
    print(
        f"worklist: {counts.get('rows', 0):,} rows ({counts.get('invalid', 0):,} invalid): "
        f"{summary.opened:,} opened, {summary.updated:,} updated, {summary.closed:,} closed, "
        f"{summary.reopened:,} reopened, {summary.unchanged:,} unchanged → {store.engine.url!r}",
        file=sys.stderr,
    )


def cmd_worklist(args: argparse.Namespace) -> int:
    _worklist_module()
    from engine.services.worklist import WorklistError, open_store

    try:
        store = open_store(args.db)
    except WorklistError as exc:
        raise UsageError(f"lifeevents worklist: {exc}") from None
    try:
        what = args.worklist_command
        if what == "assign":
            store.add_district(args.user, args.residence, args.district)
            print(f"{args.user} now works in {args.residence} / {args.district}", file=sys.stderr)
        elif what == "unassign":
            if not store.remove_district(args.user, args.residence, args.district):
                raise UsageError(f"lifeevents worklist unassign: {args.user} does not work in "
                                 f"{args.residence} / {args.district}")  # fmt: skip
        elif what == "supervisor":
            store.set_supervisor(args.user, not args.remove)
        elif what == "districts":
            for user, residence, district in store.assignments():
                print(f"{user}\t{residence}\t{district}")
        elif what == "purge":
            deleted = store.purge(args.older_than, actor=os.environ.get("USER") or "cli")
            print(
                f"worklist: {deleted:,} closed case(s) older than {args.older_than} days deleted",
                file=sys.stderr,
            )
    except WorklistError as exc:
        raise UsageError(f"lifeevents worklist {args.worklist_command}: {exc}") from None
    finally:
        store.close()
    return 0


def cmd_population(args: argparse.Namespace) -> int:
    import polars as pl

    from engine.interfaces.progress import progress_bar
    from engine.services.columns import write_error
    from engine.services.outputs import atomic_output
    from engine.services.population import csv_ready, generate_population

    target = Path(args.output)
    if target.suffix.lower() not in (".parquet", ".csv"):
        raise UsageError(f"{target}: the population is written as .parquet or .csv")
    # Two steps, not rows: the people are drawn in one vectorised pass (the same seed must
    # give the same people, which drawing in chunks would change).
    with progress_bar(f"population: drawing {args.n:,} people", 2, "step") as bar:
        frame = generate_population(args.n, seed=args.seed, as_of=args.as_of, partners=args.partners)
        bar.update()
        bar.set_description(f"population: writing {target.name}")
        with atomic_output(target) as partial:
            try:
                if target.suffix.lower() == ".csv":
                    csv_ready(frame).write_csv(partial)
                else:
                    frame.write_parquet(partial)
            except (OSError, pl.exceptions.PolarsError) as exc:
                raise write_error(target, exc) from None
        bar.update()
    print(
        f"population: {frame.height:,} people, seed {args.seed}, as of {args.as_of} → {target}",
        file=sys.stderr,
    )
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from engine.language.rule_schema import rule_file_schema_text

    text = rule_file_schema_text()
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{args.output}: cannot write the schema: {exc.strerror or exc}") from None
    print(f"wrote the rule-file schema to {args.output}", file=sys.stderr)
    return 0


def cmd_fuzz(args: argparse.Namespace) -> int:
    """Exit 0 when every property held and every criterion was seen both ways, else 1.

    The run happens in a child process (engine.testing.fuzz.run_fuzz_isolated): when the C rule
    engine crashes on a profile, the report shows that profile, shrunk, instead of dying."""
    from engine.interfaces.progress import progress_bar
    from engine.testing.fuzz import run_fuzz_isolated

    root = rules_root(args.rules)
    load_catalogue(root)  # bad rules: the usual one-line error and exit 2, before the run
    with progress_bar("fuzz", args.n, "profiles") as bar:

        def progress(done: int, total: int, stage: str) -> None:
            if total:  # profiles checked; total 0 is a stage without a count (shrinking)
                bar.total = total
                bar.n = done
            bar.set_description(f"fuzz: {stage}", refresh=False)
            bar.refresh()

        report = run_fuzz_isolated(root, args.n, args.seed, progress)
    print(report.render())
    return 0 if report.ok else 1
