"""The command line's cache of the loaded catalogue (engine/language/cache.py): an answer
read back from it is the answer read from the rules, a changed rule is never served
stale, and a cache that is damaged or that others could have written is not trusted."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import engine.language.loader as loader
from engine.language import cache
from engine.language.cache import load_catalogue_cached
from engine.language.profile import load_profile

ROOT = Path(__file__).resolve().parent.parent
NEWBORN = ROOT / "examples" / "newborn.json"
ALLOWANCE = Path("rules/parameters/childcare/allowance_monthly.yaml")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the catalogue and its rules, to edit."""
    root = tmp_path / "tree"
    root.mkdir()
    shutil.copy(ROOT / "catalog.yaml", root / "catalog.yaml")
    shutil.copytree(ROOT / "rules", root / "rules")
    return root


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "xdg"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.delenv(cache.NO_CACHE_ENV, raising=False)
    return home / "lifeevents"


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The trees read the slow way (by the YAML loader), in order."""
    read: list[Path] = []
    real = loader.load_catalogue

    def counted(root: Path | str = ".") -> object:
        read.append(Path(root))
        return real(root)

    monkeypatch.setattr(loader, "load_catalogue", counted)
    return read


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("catalogue-*.pickle"))


def test_the_second_load_is_read_back_and_equals_the_rules(tree, cache_home, loads):
    first = load_catalogue_cached(tree)
    assert loads == [tree] and len(entries(cache_home)) == 1
    second = load_catalogue_cached(tree)
    assert loads == [tree], "the second load did not come from the cache"
    assert second == first == loader.load_catalogue(tree)


def test_the_cache_folder_and_file_are_this_users_alone(tree, cache_home):
    load_catalogue_cached(tree)
    assert cache_home.stat().st_mode & 0o777 == 0o700
    (entry,) = entries(cache_home)
    assert entry.stat().st_mode & 0o777 == 0o600
    assert not list(cache_home.glob(".catalogue-*.tmp")), "a temporary file was left behind"


def test_a_rule_file_edited_after_the_cache_was_written_gives_the_new_answer(tree, cache_home, loads):
    before = load_catalogue_cached(tree)
    path = tree / ALLOWANCE
    path.write_text(path.read_text(encoding="utf-8").replace("1: 5000", "1: 5100"), encoding="utf-8")
    after = load_catalogue_cached(tree)
    assert loads == [tree, tree]
    assert after.version != before.version
    assert after == loader.load_catalogue(tree)
    amounts = after.parameters["childcare.allowance_monthly"].values[0].value
    assert amounts[1] == 5100


def test_a_new_rule_file_is_not_missed(tree, cache_home, loads):
    load_catalogue_cached(tree)
    (tree / "rules" / "parameters" / "childcare" / "extra.yaml").write_text(
        "description: [\n", encoding="utf-8"
    )
    with pytest.raises(loader.CatalogueError):
        load_catalogue_cached(tree)


def test_a_change_to_the_code_that_reads_the_rules_is_a_new_key(tree, cache_home, loads, monkeypatch):
    load_catalogue_cached(tree)
    real = cache._code_digest
    monkeypatch.setattr(cache, "_code_digest", lambda: real() + b"an edited loader")
    load_catalogue_cached(tree)
    assert loads == [tree, tree]


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda blob: blob[: len(blob) // 2], id="truncated"),
        pytest.param(lambda blob: b"", id="empty"),
        pytest.param(lambda blob: blob[:-100] + bytes(100), id="zeroed-tail"),
        pytest.param(lambda blob: b"not a cache at all", id="garbage"),
    ],
)
def test_a_corrupt_cache_is_rebuilt_not_an_error(tree, cache_home, loads, damage):
    expected = load_catalogue_cached(tree)
    (entry,) = entries(cache_home)
    entry.write_bytes(damage(entry.read_bytes()))
    assert load_catalogue_cached(tree) == expected
    assert loads == [tree, tree]
    assert load_catalogue_cached(tree) == expected  # rewritten whole: read back this time
    assert loads == [tree, tree]


def test_a_pickle_that_fails_to_load_is_rebuilt(tree, cache_home, loads):
    """A well-formed file whose pickle cannot be loaded (its digest matches) is read anew."""
    expected = load_catalogue_cached(tree)
    (entry,) = entries(cache_home)
    key, _ = cache.cache_key(tree)
    payload = b"\x80\x05cno_such_module\nNoSuchClass\n."
    import hashlib

    entry.write_bytes(cache.MAGIC + key + hashlib.sha256(payload).digest() + payload)
    assert load_catalogue_cached(tree) == expected
    assert loads == [tree, tree]


def test_a_cache_folder_others_can_write_to_is_not_used(tree, cache_home, loads):
    load_catalogue_cached(tree)
    cache_home.chmod(0o777)
    load_catalogue_cached(tree)
    load_catalogue_cached(tree)
    assert loads == [tree, tree, tree]


def test_a_cache_file_others_can_write_to_is_not_used(tree, cache_home, loads):
    load_catalogue_cached(tree)
    (entry,) = entries(cache_home)
    entry.chmod(0o666)
    load_catalogue_cached(tree)
    assert loads == [tree, tree]


def test_a_cache_of_another_user_is_not_used(tree, cache_home, loads, monkeypatch):
    load_catalogue_cached(tree)
    monkeypatch.setattr(os, "geteuid", lambda: os.getuid() + 4242)
    load_catalogue_cached(tree)
    assert loads == [tree, tree]


def test_a_cache_folder_that_is_a_symbolic_link_is_not_used(tree, cache_home, loads, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    cache_home.symlink_to(elsewhere)
    load_catalogue_cached(tree)
    load_catalogue_cached(tree)
    assert loads == [tree, tree]
    assert not list(elsewhere.iterdir())


def test_no_cache_when_asked(tree, cache_home, loads, monkeypatch):
    monkeypatch.setenv(cache.NO_CACHE_ENV, "1")
    load_catalogue_cached(tree)
    load_catalogue_cached(tree)
    assert loads == [tree, tree]
    assert not cache_home.exists()


def test_a_cache_that_cannot_be_written_is_left_out(tree, cache_home, loads):
    cache_home.parent.chmod(0o500)  # root ignores this mode: then a file that is a folder
    try:
        if os.geteuid() == 0:
            cache_home.parent.chmod(0o700)
            cache_home.write_text("a file where the folder should be")
        assert load_catalogue_cached(tree) == loader.load_catalogue(tree)
    finally:
        cache_home.parent.chmod(0o700)


def test_only_a_few_trees_are_kept(tree, cache_home, tmp_path):
    for i in range(cache.KEEP + 2):
        other = tmp_path / f"copy{i}"
        other.symlink_to(tree)
        load_catalogue_cached(other)
    assert len(entries(cache_home)) == cache.KEEP


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "engine", *args], capture_output=True, text=True, cwd=ROOT, env=env
    )


def test_the_whole_answer_is_the_same_with_and_without_the_cache(tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    env.pop(cache.NO_CACHE_ENV, None)
    for args in (("--json",), ("--json", "--lang", "zh-TW", "--event", "birth"), ()):
        cold = run("recommend", str(NEWBORN), *args, env=env)
        warm = run("recommend", str(NEWBORN), *args, env=env)
        flag = run("recommend", str(NEWBORN), *args, "--no-cache", env=env)
        off = run("recommend", str(NEWBORN), *args, env={**env, cache.NO_CACHE_ENV: "1"})
        assert cold.returncode == warm.returncode == flag.returncode == off.returncode == 0, cold.stderr
        assert cold.stdout == warm.stdout == flag.stdout == off.stdout
        assert cold.stderr == warm.stderr == ""
        if "--json" in args:
            assert json.loads(warm.stdout)["results"]
    assert len(list((tmp_path / "xdg" / "lifeevents").glob("catalogue-*.pickle"))) == 1


def test_the_command_line_answers_from_an_edited_tree_anew(tree, tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    env.pop(cache.NO_CACHE_ENV, None)

    def allowance() -> object:
        done = run("--rules", str(tree), "recommend", str(NEWBORN), "--json", env=env)
        assert done.returncode == 0, done.stderr
        (result,) = [r for r in json.loads(done.stdout)["results"] if r["service"] == "childcare-allowance"]
        return result["amount"]["value"]

    assert allowance() == 5000
    path = tree / ALLOWANCE
    path.write_text(path.read_text(encoding="utf-8").replace("1: 5000", "1: 5100"), encoding="utf-8")
    assert allowance() == 5100


def test_validate_reads_the_rules_whatever_the_cache(tree, cache_home, monkeypatch, capsys):
    from engine.interfaces.cli import main

    def refused(root: object) -> object:
        raise AssertionError("validate used the cache")

    monkeypatch.setattr(cache, "load_catalogue_cached", refused)
    assert main(["validate", str(ROOT)]) == 0
    assert capsys.readouterr().out.startswith("ok:")


def test_an_answer_from_the_cache_imports_neither_the_yaml_loader_nor_the_heavy_packages(tmp_path):
    """What makes ``recommend`` start fast, kept: with the cache warm the YAML loader and
    its checks are not imported, nor the packages only other commands need, nor PyYAML
    (the languages and residences come from the cache too), nor importlib.metadata
    (pydantic's plugin loader, tests/test_cli.py). Babel is, to format the answer's
    figures: issue 14 wants them Babel's."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    env.pop(cache.NO_CACHE_ENV, None)
    code = (
        "import sys\n"
        "from engine.interfaces.cli import main\n"
        f"assert main(['recommend', {str(NEWBORN)!r}, '--json']) == 0\n"
        "heavy = ['engine.language.loader', 'engine.language.validate', 'polars', 'numpy', 'fastapi',\n"
        "         'sqlalchemy', 'streamlit', 'pyarrow', 'yaml', 'importlib.metadata']\n"
        "print(' '.join(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    for expected in ("engine.language.loader engine.language.validate yaml", ""):  # a miss, then a hit
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env)
        assert done.returncode == 0, done.stderr
        assert done.stderr.strip() == expected


def test_the_key_names_the_rules_version_the_loader_gives(tree):
    _, version = cache.cache_key(tree)
    assert version == loader.content_version(tree) == loader.load_catalogue(tree).version


def test_rules_that_changed_while_they_were_read_are_not_stored(tree, cache_home, loads, monkeypatch):
    """The key is taken before the loader reads the files: an edit in between must not be
    stored under the old bytes' key, or editing the file back would be answered stale."""
    real = cache.cache_key

    def then_edited(root: Path) -> tuple[bytes, str]:
        key = real(root)
        path = root / ALLOWANCE
        path.write_text(path.read_text(encoding="utf-8").replace("1: 5000", "1: 5100"), encoding="utf-8")
        return key

    monkeypatch.setattr(cache, "cache_key", then_edited)
    load_catalogue_cached(tree)
    assert not entries(cache_home)


# --- the durable-rules plan stored beside the catalogue (durable_backend.compile_catalogue)


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The catalogues compiled into durable-rules the slow way (by tag), in order."""
    from engine.backends import durable_backend

    done: list[str] = []
    real = durable_backend.compile_services

    def counted(conditions: dict, tag: str) -> object:
        done.append(tag)
        return real(conditions, tag)

    monkeypatch.setattr(durable_backend, "compile_services", counted)
    return done


def _plan_as_compiled(plan) -> tuple:
    """Everything a plan holds, its rulesets named without their process's prefix."""

    def name(ruleset: str) -> str:
        assert ruleset.startswith(plan.prefix)
        return ruleset[len(plan.prefix) :]

    return (
        [(name(p.ruleset), p.services, p.operand_keys) for p in plan.partitions],
        plan.child_ruleset and name(plan.child_ruleset),
        plan.child_operand_keys,
        {name(r): (dict(rules), rules.text) for r, rules in plan.definitions.items()},
        plan.rule_count,
        list(plan.compiler.profile_ops.keys.items()),
        list(plan.compiler.child_ops.keys.items()),
        list(plan.compiler.quantifiers.items()),
    )


def test_a_warm_engine_reads_its_durable_rules_plan_back_equal_to_a_compiled_one(cache_home, compiles):
    from engine.backends.durable_backend import ruleset_text
    from engine.services.recommend import Engine

    first = Engine(load_catalogue_cached(ROOT))  # a miss: compiled, then stored beside
    assert len(compiles) == 1
    warm = Engine(load_catalogue_cached(ROOT))
    assert len(compiles) == 1, "the warm engine compiled the rules again"
    fresh = Engine(loader.load_catalogue(ROOT))  # not through the cache: compiled
    assert len(compiles) == 2
    assert _plan_as_compiled(warm.plan) == _plan_as_compiled(fresh.plan) == _plan_as_compiled(first.plan)
    # Each ruleset's stored JSON is its rules' JSON; the names are this process's own.
    assert all(rules.text == ruleset_text(rules) for rules in warm.plan.definitions.values())
    assert len({first.plan.prefix, warm.plan.prefix, fresh.plan.prefix}) == 3
    # Two engines of one cached catalogue share no operand table (each unpickles its own).
    again = Engine(load_catalogue_cached(ROOT))
    assert again.plan.compiler is not warm.plan.compiler and len(compiles) == 2
    profile = load_profile(NEWBORN)
    for engine in (warm, again):
        assert engine.statuses(profile, profile.as_of) == fresh.statuses(profile, profile.as_of)


def test_a_stored_plan_of_other_conditions_is_not_used(cache_home, compiles, monkeypatch):
    """The key covers the rules and the rule language's code, not the engine code that
    makes a service's condition: the plan is used only for the very conditions it was
    compiled from. Here one condition differs only in a literal's type (True against 1,
    which compare equal in Python and compile differently)."""
    from engine.language.rules import Compare, FactRef, Literal
    from engine.services import recommend
    from engine.services.recommend import Engine

    Engine(load_catalogue_cached(ROOT))
    real = recommend.effective_condition
    said = {}

    def changed(catalogue, service_id):
        if service_id != "birth-registration":
            return real(catalogue, service_id)
        return Compare("x", FactRef("events.birth.listed"), "eq", Literal(said["value"]))

    monkeypatch.setattr(recommend, "effective_condition", changed)
    said["value"] = True
    with_true = Engine(load_catalogue_cached(ROOT))
    assert len(compiles) == 2
    said["value"] = 1
    assert Literal(1) == Literal(True)
    with_one = Engine(load_catalogue_cached(ROOT))
    assert len(compiles) == 3, "a plan compiled for `eq: true` was used for `eq: 1`"
    first = with_one.plan.partitions[0]
    assert first.services[0] == "birth-registration"
    rules = [
        with_one.plan.definitions[first.ruleset],
        with_true.plan.definitions[first.ruleset.replace(with_one.plan.prefix, with_true.plan.prefix)],
    ]
    assert [json.loads(r.text)["birth-registration|True|0"] for r in rules] == [
        {"all": [{"m": {"$and": [{"kind": "profile"}, {"p0": value}]}}]} for value in (1, True)
    ]


def test_a_stored_plan_of_other_compiler_code_is_not_used(cache_home, compiles, monkeypatch):
    from engine.backends import durable_backend
    from engine.services.recommend import Engine

    Engine(load_catalogue_cached(ROOT))
    Engine(load_catalogue_cached(ROOT))
    assert len(compiles) == 1
    edited = cache_home.parent / "durable_backend.py"
    edited.write_bytes(durable_backend._COMPILER_CODE[0].read_bytes() + b"# an edit\n")
    monkeypatch.setattr(durable_backend, "_COMPILER_CODE", (edited, durable_backend._COMPILER_CODE[1]))
    Engine(load_catalogue_cached(ROOT))
    assert len(compiles) == 2, "a plan compiled by other code was used"
    Engine(load_catalogue_cached(ROOT))
    assert len(compiles) == 2, "the plan of the edited code was not stored"


def test_a_damaged_stored_plan_is_compiled_again(cache_home, compiles):
    from engine.backends import durable_backend
    from engine.services.recommend import Engine

    catalogue = load_catalogue_cached(ROOT)
    Engine(catalogue)
    stored = cache.stored_beside(catalogue, durable_backend.STORED_AS)
    assert stored is not None
    cache.store_beside(catalogue, durable_backend.STORED_AS, stored[:64] + pickle.dumps(["not a plan"]))
    catalogue = load_catalogue_cached(ROOT)
    Engine(catalogue)
    assert len(compiles) == 2
    again = cache.stored_beside(catalogue, durable_backend.STORED_AS)
    assert again is not None and again[:64] == stored[:64] and again != stored
    Engine(load_catalogue_cached(ROOT))
    assert len(compiles) == 2


# --- the compiled methods of dataclasses (cache.compiled_code_kept)


def _some_dataclasses() -> list[type]:
    """Classes of every kind the engine makes: frozen, slots, defaults and factories,
    keyword-only, ordered, with a string annotation; made anew at each call."""
    import dataclasses
    from typing import Any

    @dataclasses.dataclass(frozen=True)
    class Frozen:
        a: int
        b: str = "x"
        c: tuple = dataclasses.field(default=(), compare=False)

    @dataclasses.dataclass(frozen=True, slots=True)
    class Slotted:
        value: Any

    @dataclasses.dataclass(order=True, kw_only=True)
    class Ordered:
        n: int
        items: list[int] = dataclasses.field(default_factory=list)
        later: Ordered | None = None

    return [Frozen, Slotted, Ordered]


_METHODS = ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__", "__lt__", "__ge__")


def _made(classes: list[type]) -> list[tuple]:
    import typing

    # A string annotation as typing reads it: code compiled from the text.
    refs = [typing.ForwardRef(text) for text in ("int | None", "list[Ordered]", "*tuple[int, str]")]
    out: list[tuple] = [(ref.__forward_arg__, ref.__forward_code__) for ref in refs]
    for cls in classes:
        for name in _METHODS:
            method = cls.__dict__.get(name)
            code = getattr(method, "__code__", None)
            if code is None:
                out.append((cls.__name__, name, method))
                continue
            # A code object compares by what it does (its bytecode, names, constants).
            out.append((cls.__name__, name, code, method.__annotations__, method.__qualname__))
    return out


def test_classes_made_with_kept_code_are_the_same_classes(cache_home):
    """The first block compiles and keeps the methods; the second makes them from the
    kept code: each method the same code, with the same annotations (objects, as
    dataclasses' own exec makes them, not strings: cache.py's __future__ import must not
    leak into them), and the classes behave alike; typing's ForwardRefs get the same code."""
    import dataclasses
    import typing

    plain = _made(_some_dataclasses())
    with cache.compiled_code_kept():
        compiled = _made(_some_dataclasses())
    assert "exec" not in vars(dataclasses) and "compile" not in vars(typing)
    (kept,) = cache_home.glob("compiled-code-*.marshal")
    written = kept.stat().st_mtime_ns
    with cache.compiled_code_kept():
        assert "exec" in vars(dataclasses)
        with cache.compiled_code_kept():  # a block within a block changes nothing
            pass
        assert "exec" in vars(dataclasses)
        classes = _some_dataclasses()
        read_back = _made(classes)
    assert kept.stat().st_mtime_ns == written, "nothing new, yet the file was written again"
    assert read_back == compiled == plain
    Frozen, Slotted, Ordered = classes
    assert Frozen(1) == Frozen(1, "x", (5,)) and repr(Frozen(1)).endswith(".Frozen(a=1, b='x', c=())")
    with pytest.raises(dataclasses.FrozenInstanceError):
        Frozen(1).a = 2
    with cache.compiled_code_kept(), pytest.raises(SyntaxError, match="must be an expression"):
        typing.ForwardRef("not an expression")
    assert Slotted.__slots__ == ("value",) and hash(Slotted(3)) == hash(Slotted(3))
    assert Ordered(n=1) < Ordered(n=2) and Ordered(n=1).items is not Ordered(n=1).items
    assert Ordered.__init__.__annotations__["later"] == "Ordered | None"  # as written here


def test_a_damaged_or_foreign_file_of_kept_code_is_not_used(cache_home):
    import hashlib
    import marshal

    plain = _made(_some_dataclasses())
    with cache.compiled_code_kept():
        _made(_some_dataclasses())
    path, head = cache._code_file(cache_home)
    good = path.read_bytes()
    # Other code under the same texts, well formed: used only if the file is ours alone.
    texts = marshal.loads(good[len(head) + 32 :])
    payload = marshal.dumps({text: compile("raise SystemExit(3)", "<x>", "exec") for text in texts})
    path.write_bytes(head + hashlib.sha256(payload).digest() + payload)
    path.chmod(0o666)
    with cache.compiled_code_kept():
        assert _made(_some_dataclasses()) == plain
    for damaged in (good[:-10], good[:40] + b"x" + good[41:], b""):
        path.write_bytes(damaged)
        path.chmod(0o600)
        with cache.compiled_code_kept():
            assert _made(_some_dataclasses()) == plain
        again = path.read_bytes()  # written anew: the same code (marshal's bytes vary)
        assert again[: len(head)] == head, "a damaged file was not written anew"
        assert marshal.loads(again[len(head) + 32 :]) == texts


def test_no_cache_keeps_no_code(cache_home, monkeypatch):
    import dataclasses

    monkeypatch.setenv(cache.NO_CACHE_ENV, "1")
    with cache.compiled_code_kept():
        assert "exec" not in vars(dataclasses)
        _some_dataclasses()
    assert not list(cache_home.parent.rglob("compiled-code-*"))


# --- Babel's locale data, kept (cache.locale_data_kept)

FIGURES = r"""
import sys
from datetime import date
from engine.language import cache
from engine.language.i18n import format_date, format_money, format_number, format_percent, format_whole, roc_parts
from babel import localedata
for lang, locale in (("en", "en"), ("zh-TW", "zh_Hant_TW")):
    if sys.argv[1] == "kept":
        cache.locale_data_kept(locale)
    print(locale in localedata._cache, format_money(1234567.5, lang), format_number(2.345, lang),
          format_whole(-5000.5, lang), format_percent(0.125, lang), format_date(date(2026, 2, 28), lang),
          roc_parts(date(2026, 2, 28), lang))
"""


def _figures(way: str, env: dict[str, str]) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", FIGURES, way], capture_output=True, text=True, cwd=ROOT, env=env, check=True
    )
    return done.stdout.splitlines()


def test_figures_from_kept_locale_data_are_babels_own(cache_home):
    """Babel formats from the data it loaded in an earlier process exactly as from the
    data it loads itself, in each language; the data is kept once, then read back."""
    env = dict(os.environ)
    own = _figures("own", env)
    assert [line.split()[0] for line in own] == ["False", "False"]  # loaded by Babel when first used
    first = _figures("kept", env)  # loaded by Babel now, and kept
    kept = sorted(cache_home.glob("babel-*.pickle"))
    assert [p.name.split("-")[1] for p in kept] == ["en", "zh_Hant_TW"]
    written = [p.stat().st_mtime_ns for p in kept]
    again = _figures("kept", env)  # read back
    assert [p.stat().st_mtime_ns for p in kept] == written
    assert (
        [line.split(" ", 1)[1] for line in own]
        == [line.split(" ", 1)[1] for line in first]
        == [line.split(" ", 1)[1] for line in again]
    )
    assert "NT$1,234,568" in own[0]


def test_damaged_or_foreign_locale_data_is_not_used(cache_home):
    env = dict(os.environ)
    own = [line.split(" ", 1)[1] for line in _figures("own", env)]
    _figures("kept", env)
    for path in cache_home.glob("babel-*.pickle"):
        good = path.read_bytes()
        path.write_bytes(good[:-100])
    assert [line.split(" ", 1)[1] for line in _figures("kept", env)] == own
    for path in cache_home.glob("babel-*.pickle"):
        path.chmod(0o666)  # another user could have written it
    assert [line.split(" ", 1)[1] for line in _figures("kept", env)] == own
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in cache_home.glob("babel-*.pickle"))


def test_a_plan_that_has_answered_pickles_its_operand_keys_only():
    """An operand table fills its split and its day's values with compiled functions as it
    answers; those never reach a pickle (they do not pickle), and a plan read back answers
    the same."""
    import pickle

    from engine.services.recommend import Engine

    engine = Engine(loader.load_catalogue(ROOT))
    profile = load_profile(NEWBORN)
    before = engine.statuses(profile, profile.as_of)
    assert engine.plan.compiler.profile_ops._day_only is not None  # filled by the answer
    plan = pickle.loads(pickle.dumps(engine.plan))
    assert plan.compiler.profile_ops._day_only is None
    assert list(plan.compiler.profile_ops.keys.items()) == list(engine.plan.compiler.profile_ops.keys.items())
    env = engine.env(profile, profile.as_of)
    assert plan.compiler.profile_ops.values(env) == engine.plan.compiler.profile_ops.values(env)
    assert before == engine.statuses(profile, profile.as_of)
