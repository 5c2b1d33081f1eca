"""A checked cache of the loaded catalogue, for commands that start a process per answer.

``lifeevents recommend`` spends most of its time reading and checking ``catalog.yaml``
and the ~230 files under ``rules/``, the same every time. This module keeps the
validated :class:`Catalogue` as a pickle under ``$XDG_CACHE_HOME/lifeevents`` and uses
it only when nothing it was built from has changed:

- the key is a digest of every input file's bytes (the loader's own list of files,
  :func:`engine.language.rulesroot.source_files`), of the root as given (the catalogue
  carries it), of the code that reads and checks them (``engine/language/*.py`` and
  ``engine/data/*``: an editable install changes code without changing its version),
  and of the package, Python and pydantic versions, so a rule edited a second after
  the cache was written is never served stale;
- a pickle is code, so the cache is treated like ``__pycache__``: its folder (mode
  0700) and file must belong to this user and be writable by no one else, or it is
  not used; it is written to a temporary file and renamed into place, so a reader
  never sees half of it; and a digest of the pickle is checked before it is loaded;
- a missing, stale, truncated or corrupt cache is read the slow way and rewritten,
  never an error; a cache that cannot be written (a read-only home) is left out.

With the catalogue it keeps what an answer would otherwise parse YAML for: the languages
(engine/data/languages.yaml) and the tree's residences (rules/residences.yaml); the key
covers both files and Babel's version (a language's locale is checked against Babel's
CLDR data when the file is read). It also keeps, each under its name, what later steps
make from the catalogue and store beside it (:func:`stored_beside`, :func:`store_beside`):
the durable-rules compilation (engine/backends/durable_backend.py), which checks for
itself that what it stored was made from the same input by the same code.

``LIFEEVENTS_NO_CACHE=1`` (or ``recommend --no-cache``) reads the rules the slow way.
``lifeevents validate`` never uses it: it is the full check.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import os
import pickle
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import CodeType
from typing import TYPE_CHECKING, Any, NamedTuple

# The engine's modules are imported where they are used: the command line imports this
# module first, to start with dataclass_methods_cached, before pydantic and the models.
if TYPE_CHECKING:
    from engine.language.catalog import Catalogue
    from engine.language.i18n import Language
    from engine.language.residences import Residences

NO_CACHE_ENV = "LIFEEVENTS_NO_CACHE"
# Bumped when the file's layout changes; the key covers everything else.
MAGIC = b"lifeevents-catalogue-cache 3\n"
DIGEST_SIZE = 32
KEEP = 8  # cached trees (a test's copy, a staff draft, the checkout) before the oldest goes
ENGINE = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class CachedTree:
    """What one cache file holds: a tree's catalogue and what answering from it reads."""

    catalogue: Catalogue
    languages: dict[str, Language]
    residences: Residences | None  # None for a tree without rules/residences.yaml
    # What later steps made from this catalogue, by name, as they encoded it (store_beside);
    # each checks its own entry before using it: the key covers only the catalogue's inputs.
    beside: dict[str, bytes] = field(default_factory=dict)


class _Served(NamedTuple):  # not a dataclass: made before compiled_code_kept can start
    """A catalogue this process read from the cache or stored in it, and where."""

    catalogue: Catalogue
    path: Path
    key: bytes
    tree: CachedTree


# The catalogues this process answered from the cache (one per tree, few).
_SERVED: list[_Served] = []


def _served(catalogue: Catalogue) -> _Served | None:
    return next((s for s in _SERVED if s.catalogue is catalogue), None)


def _serve(served: _Served) -> None:
    _SERVED[:] = [s for s in _SERVED if s.path != served.path][-(KEEP - 1) :] + [served]


def served(catalogue: Catalogue) -> bool:
    """Whether this process read ``catalogue`` from the cache or stored it there."""
    return _served(catalogue) is not None


def stored_beside(catalogue: Catalogue, name: str) -> bytes | None:
    """What was stored as ``name`` beside ``catalogue`` in its cache file, when this
    process read ``catalogue`` from the cache; None otherwise. The caller checks it."""
    served = _served(catalogue)
    return None if served is None else served.tree.beside.get(name)


def store_beside(catalogue: Catalogue, name: str, value: bytes) -> None:
    """Keep ``value`` as ``name`` beside ``catalogue`` in its cache file, when
    ``catalogue`` came through the cache in this process (read from it, or read anew and
    stored); otherwise, or when the file cannot be written, nothing is kept."""
    served = _served(catalogue)
    if served is None or not _private_folder(served.path.parent, create=False):
        return
    tree = replace(served.tree, beside=served.tree.beside | {name: value})
    try:
        write_cached(served.path, served.key, tree)
    except OSError:
        return  # kept next time: the answer stands
    _serve(served._replace(tree=tree))


def cache_enabled() -> bool:
    return os.environ.get(NO_CACHE_ENV, "").strip() in ("", "0")


def cache_dir() -> Path | None:
    """``$XDG_CACHE_HOME/lifeevents``, else ``~/.cache/lifeevents``; None with no home."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # the XDG spec: a relative path is to be ignored
        home = os.environ.get("HOME", "")
        if not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    return Path(base) / "lifeevents"


def _code_digest() -> bytes:
    """What the loaded catalogue depends on besides the rules: the code that reads and
    checks them, the data files it reads (the languages), and the versions of what
    unpickles it and of Babel, which checked the cached languages' locales. The
    package's own version adds nothing to the code's bytes (an editable install changes
    code without changing it) and would cost importing importlib.metadata."""
    from pydantic import VERSION as PYDANTIC_VERSION

    digest = hashlib.sha256()
    digest.update(f"{sys.version}\0{PYDANTIC_VERSION}\0".encode() + _babel_release() + b"\0")
    for folder in (ENGINE / "language", ENGINE / "data"):
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix in (".py", ".yaml"):
                digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.digest()


def _babel_release() -> bytes:
    """Babel's ``__init__.py``, which names its version, found without importing Babel
    (an answer from the cache does not import it)."""
    spec = importlib.util.find_spec("babel")
    if spec is None or spec.origin is None:
        return b"no babel"
    return Path(spec.origin).read_bytes()


def cache_key(root: Path) -> tuple[bytes, str]:
    """The digest of everything ``load_catalogue(root)`` reads, and the rules version it
    would give (``loader.content_version``); CatalogueError when a file cannot be read
    (the loader then says which, as without a cache)."""
    key = _read_key(root)
    _LAST_READ[:] = [key]
    return key.digest, key.version


class _Key(NamedTuple):  # as _Served
    digest: bytes
    version: str
    # The two files a CachedTree holds besides the catalogue, as the key read them: a
    # miss stores what is parsed from these bytes, so the stored tree is the key's even
    # when a file is edited meanwhile.
    languages: bytes
    residences: bytes | None


# The last key taken, with the bytes of the two files a miss stores parsed.
_LAST_READ: list[_Key] = []


def _read_key(root: Path) -> _Key:
    from engine.language.i18n import LANGUAGES_FILE
    from engine.language.residences import RESIDENCES_FILE
    from engine.language.rulesroot import RulesVersion, source_files
    from engine.language.yamlsafe import read_source

    languages = LANGUAGES_FILE.read_bytes()
    digest = hashlib.sha256(MAGIC)
    digest.update(_code_digest())
    digest.update(f"{len(languages)}\0".encode() + languages)
    digest.update(str(root).encode() + b"\0")
    version = RulesVersion()
    residences, residences_path = None, root / RESIDENCES_FILE
    under = str(root).rstrip(os.sep) + os.sep
    for path in source_files(root):
        text = str(path)
        shown = text[len(under) :] if text.startswith(under) else str(path.relative_to(root))
        raw = read_source(text, shown)  # anything but a regular file: as the loader words it
        # Length first: no two lists of files give the same stream of bytes.
        digest.update(f"{shown}\0{len(raw)}\0".encode() + raw)
        version.add(shown, raw)
        if path == residences_path:
            residences = raw
    return _Key(digest.digest(), version.value, languages, residences)


def _private_folder(folder: Path, create: bool) -> bool:
    """The folder is this user's own and no one else can write in it (made so if asked)."""
    if create:
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError:
            return False
    try:
        info = folder.lstat()  # a symbolic link is not followed: it may point anywhere
    except OSError:
        return False
    return _private(info) and stat.S_ISDIR(info.st_mode)


def _private(info: os.stat_result) -> bool:
    return info.st_uid == os.geteuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _entry(folder: Path, root: Path) -> Path:
    # One file per tree, named by where it is, so that two trees do not take turns
    # overwriting one file; the key inside says whether it is still the tree's.
    return folder / f"catalogue-{hashlib.sha256(str(root).encode()).hexdigest()[:16]}.pickle"


def read_cached(path: Path, key: bytes) -> CachedTree | None:
    """What is stored at ``path`` under ``key``; None when there is none, it is
    another key's, it is not this user's own, or it is damaged in any way."""
    payload = _read_checked(path, MAGIC + key)
    if payload is None:
        return None
    try:
        stored_tree = pickle.loads(payload)
    except Exception:  # a damaged pickle can raise almost anything: it is rebuilt
        return None
    return stored_tree if isinstance(stored_tree, CachedTree) else None


def _read_checked(path: Path, head: bytes) -> bytes | None:
    """The payload of a file written by _write_checked under ``head``, when the file is
    this user's own and no one else's to write, and its digest holds; else None."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as file:
            info = os.fstat(file.fileno())
            if not (stat.S_ISREG(info.st_mode) and _private(info)):
                return None
            blob = file.read()
    except OSError:
        return None
    if not blob.startswith(head) or len(blob) < len(head) + DIGEST_SIZE:
        return None
    stored, payload = blob[len(head) : len(head) + DIGEST_SIZE], blob[len(head) + DIGEST_SIZE :]
    if hashlib.sha256(payload).digest() != stored:
        return None
    return payload


def write_cached(path: Path, key: bytes, tree: CachedTree) -> None:
    """Store ``tree`` atomically: a temporary file (mode 0600) renamed into place.
    Not fsynced: after a crash a reader may find a short or empty file, which fails its
    digest and is rebuilt."""
    _write_checked(path, MAGIC + key, pickle.dumps(tree, protocol=pickle.HIGHEST_PROTOCOL))


def _write_checked(path: Path, head: bytes, payload: bytes) -> None:
    import tempfile  # only on a miss: it brings shutil and random along

    blob = head + hashlib.sha256(payload).digest() + payload
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=".catalogue-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(blob)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def _prune(folder: Path) -> None:
    """Keep the KEEP most recently written trees: a test suite's temporary copies must
    not fill the cache folder."""
    entries = sorted(folder.glob("catalogue-*.pickle"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for old in entries[KEEP:]:
        old.unlink(missing_ok=True)


def load_catalogue_cached(root: Path | str) -> Catalogue:
    """``load_catalogue(root)``, from the cache when every input is as it was then."""
    from engine.language.i18n import parse_languages, use_languages
    from engine.language.residences import use_residences
    from engine.language.yamlsafe import CatalogueError

    root = Path(root)
    folder = cache_dir() if cache_enabled() else None
    if folder is None:
        return _load(root)
    try:
        key, version = cache_key(root)
    except (CatalogueError, OSError):
        return _load(root)  # the loader names the file it cannot read
    path = _entry(folder, root)
    if _private_folder(folder, create=False):
        cached = read_cached(path, key)
        if cached is not None and cached.catalogue.version == version:
            use_languages(cached.languages)
            if cached.residences is not None:
                use_residences(root, cached.residences)
            _serve(_Served(cached.catalogue, path, key, cached))
            return cached.catalogue
    catalogue = _load(root)
    # A rule file edited while the loader read it: what was read is not what the key
    # says, and must not be stored under it (an edit back would be served stale).
    read = next((taken for taken in _LAST_READ if taken.digest == key), None)
    if read is not None and catalogue.version == version and _private_folder(folder, create=True):
        import yaml  # imported already by the loader; for a broken languages.yaml's error

        try:
            tree = CachedTree(
                catalogue, parse_languages(read.languages.decode()), _residences(read.residences)
            )
            write_cached(path, key, tree)
            _serve(_Served(catalogue, path, key, tree))
            _prune(folder)
        except (OSError, ValueError, yaml.YAMLError, pickle.PicklingError):
            pass  # no cache this time (a full disk, a read-only home): the answer stands
    return catalogue


def _residences(raw: bytes | None) -> Residences | None:
    from engine.language.residences import parse_residences

    # Checked by the loader already: a file it refused never gets this far.
    return None if raw is None else parse_residences(raw.decode())


def _load(root: Path) -> Catalogue:
    # Imported here: on a hit, the YAML reading and checking is never imported.
    from engine.language.loader import load_catalogue

    return load_catalogue(root)


# --- code compiled from text while the command starts ------------------------------------

CODE_MAGIC = b"lifeevents-compiled-code 1\n"
# Where Python compiles source text at every start, and the builtin each one calls by its
# global name: dataclasses the methods it writes for each class (``exec``), typing each
# string annotation it wraps in a ForwardRef (``compile``, as an expression).
_COMPILING = (("dataclasses", "exec"), ("typing", "compile"))


def _code_file(folder: Path) -> tuple[Path, bytes]:
    """Where this Python's kept code is, and the head that names it: its version and
    bytecode (marshal's code objects are this Python's own) and the modules whose
    texts it compiled."""
    digest = hashlib.sha256(f"{sys.version}\0".encode() + importlib.util.MAGIC_NUMBER)
    for module, _ in _COMPILING:
        spec = importlib.util.find_spec(module)
        digest.update(Path(spec.origin).read_bytes() if spec and spec.origin else b"")
    return folder / f"compiled-code-{digest.hexdigest()[:16]}.marshal", CODE_MAGIC + digest.digest()


@contextlib.contextmanager
def compiled_code_kept() -> Iterator[None]:
    """While the block runs, the source texts that dataclasses and typing compile as
    classes are made are compiled once and kept, in the cache folder, by their very
    text: the methods ``@dataclass`` writes for each class (``__init__``, ``__eq__``,
    ``__repr__``…, about 400 while lifeevents recommend starts: pydantic's,
    annotated_types' and the engine's classes) and the string annotations typing turns
    into ForwardRefs (about 800, pydantic-core's TypedDicts): ~40 ms of every answer on
    Python 3.11. The kept code is what ``compile`` gives for that text, compiled as they
    compile it (without the caller's __future__ flags), so every class is the same as
    without it. The file is trusted as the catalogue cache is (this user's own, a
    digest checked); LIFEEVENTS_NO_CACHE=1 turns it off too."""
    import marshal

    modules = [(importlib.import_module(name), builtin) for name, builtin in _COMPILING]
    folder = cache_dir() if cache_enabled() else None
    # None, or a block within a block (the names are set already).
    if folder is None or any(builtin in vars(module) for module, builtin in modules):
        yield
        return
    path, head = _code_file(folder)
    known: dict[tuple[str, str, str], CodeType] = {}
    payload = _read_checked(path, head) if _private_folder(folder, create=False) else None
    if payload is not None:
        with contextlib.suppress(Exception):  # damaged: compiled anew and rewritten
            read = marshal.loads(payload)
            if isinstance(read, dict):
                known = read
    compiled = 0

    def kept(source: str, filename: str, mode: str) -> CodeType:
        nonlocal compiled
        code = known.get((source, filename, mode))
        if not isinstance(code, CodeType):
            code = compile(source, filename, mode, dont_inherit=True)  # SyntaxError as theirs
            known[source, filename, mode] = code
            compiled += 1
        return code

    def exec_kept(source: Any, globals: Any = None, locals: Any = None) -> None:
        exec(kept(source, "<string>", "exec") if isinstance(source, str) else source, globals, locals)

    def compile_kept(source: Any, filename: Any, mode: str, *more: Any, **options: Any) -> Any:
        if more or options or not isinstance(source, str) or not isinstance(filename, str):
            return compile(source, filename, mode, *more, **options)
        return kept(source, filename, mode)

    hooks = {"exec": exec_kept, "compile": compile_kept}
    for module, builtin in modules:
        setattr(module, builtin, hooks[builtin])  # a module's global is read before the builtin
    try:
        yield
    finally:
        for module, builtin in modules:
            delattr(module, builtin)
        if compiled and _private_folder(folder, create=True):
            with contextlib.suppress(OSError, ValueError):  # kept next time
                _write_checked(path, head, marshal.dumps(known))


# --- Babel's locale data ---------------------------------------------------------------------

LOCALE_MAGIC = b"lifeevents-babel-locale-data 1\n"


def _locale_file(folder: Path, name: str) -> tuple[Path, bytes]:
    """Where Babel's data of locale ``name`` is kept, and the head that names it: the
    locale, this Python (pickle) and Babel's release, whose CLDR data it is."""
    digest = hashlib.sha256(f"{sys.version}\0{name}\0".encode() + _babel_release()).digest()
    return folder / f"babel-{name}-{digest.hex()[:16]}.pickle", LOCALE_MAGIC + digest


def locale_data_kept(name: str) -> None:
    """Babel's data of locale ``name`` (its CLDR data merged with the locales it inherits
    from, as ``babel.localedata.load`` makes it and keeps it for the process), loaded
    now: read back from the cache folder, where that very function's result was pickled,
    before any use, by an earlier process of the same Babel; else loaded by Babel and
    kept there. Babel still formats every figure; only its reading of three data files
    (global.dat, root.dat and the locale's, ~800 KB of pickles) and their merge is spared
    when the answer needs them: ~8 ms. Trusted as the catalogue cache is;
    LIFEEVENTS_NO_CACHE=1 turns it off too."""
    folder = cache_dir() if cache_enabled() else None
    if folder is None:
        return
    from babel import localedata

    loaded = getattr(localedata, "_cache", None)  # Babel's own: name -> merged data
    if isinstance(loaded, dict) and name not in loaded:
        _use_locale_data(folder, name, loaded, localedata.load)


def _use_locale_data(folder: Path, name: str, loaded: dict[str, Any], load: Any) -> None:
    path, head = _locale_file(folder, name)
    payload = _read_checked(path, head) if _private_folder(folder, create=False) else None
    if payload is not None:
        with contextlib.suppress(Exception):  # damaged: Babel loads it, and it is kept anew
            kept = pickle.loads(payload)
            if isinstance(kept, dict) and kept:
                loaded[name] = kept
                return
    try:
        made = pickle.dumps(load(name), protocol=pickle.HIGHEST_PROTOCOL)  # before any use
    except Exception:  # not a locale Babel has: its formatting says so, as without a cache
        return
    if _private_folder(folder, create=True):
        with contextlib.suppress(OSError):  # kept next time
            _write_checked(path, head, made)
