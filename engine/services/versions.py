"""Versions of the rules: checked edits, atomic saves, history, diff and restore.

Policy staff change a file (a parameter, a rule, the catalogue), or several at once (a new
service: its catalogue entry, rule, parameters and test cases), together with the test
cases that pin them. A change is first *proposed*: applied to a scratch copy of the whole
tree, loaded and validated, linted, and the test cases run of every service whose rules or
whose cases it changes. Only a proposal without problems can be
*saved*, and only over the version it was based on, rules and test cases both (a stale copy
is refused, so two editors cannot silently overwrite each other). A save *records first*: who, when and why
with a full snapshot of the resulting tree, on disk and fsynced, and only then replaces
the live file atomically (a temporary file, fsync, ``os.replace``). A crash at any moment
leaves loadable rules and a history whose last version is the live one, after the repair
that every RuleStore runs at start (RuleStore's docstring gives the protocol and why a
crash is rolled forward or dropped). The test cases are part of a version: a snapshot holds
them under ``tests/cases/`` and they are written by the same protocol as the rule files.
"""

from __future__ import annotations

import contextlib
import difflib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from engine.language.catalog import Catalogue
from engine.language.loader import CatalogueError, load_catalogue
from engine.services.audit import AuditLog

TRACKED = ("catalog.yaml", "rules")
JOURNAL = "journal.json"
# A version's test cases, in its snapshot and in its list of files; live they are in the
# store's cases folder (LIFEEVENTS_CASES), which need not be under the rules root.
CASES = "tests/cases/"


class StaleEdit(RuntimeError):
    """The rules or their test cases changed since the editor loaded them."""

    def __init__(self, had: str, now: str):
        self.had, self.now = had, now
        super().__init__(
            f"the rules changed since you opened them (you had {had}, now {now}); "
            "reload, reapply your change and save again"
        )


class RejectedEdit(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Version:
    id: int
    version: str  # the content hash of the tree (Catalogue.version)
    author: str
    when: str
    reason: str
    files: list[str]
    parent: str | None = None


@dataclass
class Proposal:
    file: str
    base_version: str
    catalogue: Catalogue | None
    problems: list[str] = field(default_factory=list)
    lint: list[str] = field(default_factory=list)
    affected: list[str] = field(default_factory=list)
    failed_cases: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # every file of the change (rules and cases)
    checked: list[str] = field(default_factory=list)  # services whose cases ran: affected or edited

    @property
    def ok(self) -> bool:
        return not (self.problems or self.lint or self.failed_cases)


def _fsync_dir(path: Path) -> None:
    dir_fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def atomic_write(path: Path, content: str | bytes) -> None:
    """Write ``content`` to ``path`` so that a reader (or a crash) sees old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode("utf-8") if isinstance(content, str) else content
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _copy_tree(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / "catalog.yaml", dst / "catalog.yaml")
    shutil.copytree(src / "rules", dst / "rules", dirs_exist_ok=True, ignore=shutil.ignore_patterns(".*.tmp"))


def _tree_bytes(root: Path) -> dict[str, bytes]:
    """The tracked files of a tree (live or snapshot): relative path -> content."""
    files = {"catalog.yaml": (root / "catalog.yaml").read_bytes()}
    for path in sorted((root / "rules").rglob("*.yaml")):
        if path.is_file():
            files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files


def _case_bytes(directory: Path) -> dict[str, bytes]:
    """The case files under ``directory``, keyed ``tests/cases/<relative path>``."""
    if not directory.is_dir():
        return {}
    return {
        CASES + path.relative_to(directory).as_posix(): path.read_bytes()
        for path in sorted(directory.rglob("*.yaml"))
        if path.is_file()
    }


def _snapshot_bytes(where: Path) -> dict[str, bytes]:
    """Every file of a snapshot: the rules and (since 2026-12) the test cases."""
    return {**_tree_bytes(where), **_case_bytes(where / CASES)}


def _snapshot_files(where: Path) -> dict[str, str]:
    return {rel: data.decode("utf-8") for rel, data in _snapshot_bytes(where).items()}


def _tracks_cases(files: dict[str, bytes]) -> bool:
    """Snapshots made before the cases were versioned hold none: restoring one leaves the
    live cases as they are."""
    return any(rel.startswith(CASES) for rel in files)


def files_version(files: dict[str, bytes]) -> str:
    """The content hash ``load_catalogue`` gives these files (``Catalogue.version``).

    Computed here without parsing, so that a tree that does not load still has a version
    to record. Same order and bytes as engine/language/loader.py (tests/test_staff_hardening.py
    checks that the two agree on the real rules)."""
    digest = hashlib.sha256()
    rules = sorted(Path(rel) for rel in files if rel != "catalog.yaml" and not rel.startswith(CASES))
    for rel in [Path("catalog.yaml"), *rules]:
        digest.update(str(rel).encode() + b"\0" + files[rel.as_posix()])
    return digest.hexdigest()[:12]


def tree_version(root: Path) -> str:
    return files_version(_tree_bytes(root))


def base_version_of(files: dict[str, bytes]) -> str:
    """What an edit is based on: the rules' version and the test cases', ``RULES+CASES``.

    A save writes case files as well as rule files, so the check that refuses a stale save
    must cover both: comparing the rules alone let a second case-only save overwrite the
    first. The rules' version (``files_version``, ``Catalogue.version``) stays the answers'
    version, which no case changes; it comes first so that the base an editor shows can
    still be matched with the sidebar and the history."""
    digest = hashlib.sha256()
    for rel in sorted(rel for rel in files if rel.startswith(CASES)):
        digest.update(f"{rel}\0{len(files[rel])}\0".encode() + files[rel])
    return f"{files_version(files)}+{digest.hexdigest()[:12]}"


def _write_snapshot(where: Path, files: dict[str, bytes], version: Version, previous: Path | None) -> None:
    """A snapshot folder with every file and ``meta.json`` on disk (fsynced) before it is named.

    A file unchanged since the ``previous`` snapshot is hard-linked to it rather than
    copied: snapshot files are never written again, its data is already on disk, and a
    save then fsyncs the one file it changed and the folders instead of ~220 files
    (measured: ~0.8-3 s per save copying, on this shared machine)."""
    written: list[Path] = []
    for rel, data in files.items():
        path = where / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        old = previous / rel if previous is not None else None
        if old is not None and old.is_file() and old.read_bytes() == data:
            try:
                os.link(old, path)
                continue
            except OSError:
                pass  # a file system without hard links: copy
        path.write_bytes(data)
        written.append(path)
    meta = where / "meta.json"
    meta.write_text(json.dumps(asdict(version), ensure_ascii=False, indent=2), encoding="utf-8")
    for path in [*written, meta]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    for dirpath, _dirs, _names in os.walk(where, topdown=False):
        _fsync_dir(Path(dirpath))


class SaveFailed(OSError):
    """A save or restore could not be completed; the live rules were left as they were."""


class RuleStore:
    """The rules under ``root`` with their history under ``history`` (default root/.history).

    Every change (a save, a restore) follows one protocol, so that the history always
    names the version that is live:

    1. the new version's snapshot (every file and ``meta.json``: who, when, why, parent)
       is written to ``.N.staging`` and fsynced;
    2. ``journal.json`` (``{"apply": N}``) is written and fsynced;
    3. ``.N.staging`` is renamed to ``N``: from here the version is recorded;
    4. the live files are replaced from the snapshot, each atomically;
    5. the journal is removed.

    A failure in step 4 (a full disk) undoes the change before the save reports it: the
    snapshot is set aside, the previous files are put back, the journal removed.

    At start (and before every change) :meth:`_reconcile` repairs what a crash left:

    - a journal whose snapshot ``N`` exists: the crash came after the record was complete,
      so the change is *rolled forward* (the live files are made those of ``N``). The record
      is the commit point, as in a database's write-ahead log: the edit had passed all its
      checks, and who/when/why are on disk; nobody was told it failed, and rolling back
      would silently drop a checked edit that the history (and the author, on reopening)
      shows as made.
    - a journal without its snapshot: the crash came before the record was complete (or
      during an undo), so the incomplete record is *dropped* and the live files are put
      back to the last recorded version (a no-op unless an undo was interrupted).
    - no journal, but live files that differ from the last recorded version: the rules
      were changed outside the staff area (a deployment, a hand edit, or a save of the
      version before this protocol). They are *recorded as found* (author
      ``(recovery)``), never overwritten: rolling back would undo someone's deployment.
    - leftover ``.N.staging`` / ``.N.dropped`` folders and ``.*.tmp`` files are removed.
    """

    def __init__(
        self,
        root: Path | str,
        history: Path | str | None = None,
        cases: Path | str | None = None,
        audit: AuditLog | None = None,
    ):
        self.root = Path(root)
        self.history_dir = Path(history) if history else self.root / ".history"
        self.cases_dir = Path(cases) if cases else self.root / "tests" / "cases"
        self.history_dir.mkdir(parents=True, exist_ok=True)
        self.audit = audit if audit is not None else AuditLog.beside(self.history_dir)
        with self._lock():
            self._reconcile()

    # -- reading ----------------------------------------------------------------------

    def current(self) -> Catalogue:
        return load_catalogue(self.root)

    def current_version(self) -> str:
        """The rules' version: what the answers are computed with (the cases left out)."""
        return self.current().version

    def base_version(self) -> str:
        """The version an edit opened now is based on: every file a save may write, the
        rules and the test cases (``base_version_of``). A save compares it under the lock."""
        return base_version_of(self._live_bytes())

    def read(self, rel: str) -> str:
        return (self.root / self.rule_path(rel)).read_text(encoding="utf-8")

    def rule_path(self, rel: str, *, new: bool = False) -> Path:
        """A rule or catalogue file staff may write, relative to the rules root; RejectedEdit
        names the path (as given) and the problem. ``new``: the file may not exist yet (a
        new service's files are its own; an existing one belongs to something else)."""
        path = _rule_path(rel)
        problems = _tree_problems(self.root, path)
        if new and not problems and path.as_posix() != "catalog.yaml" and (self.root / path).exists():
            problems.append(
                f"{_shown(path.as_posix())}: the file exists already; a new service's rule and "
                "parameter files are new files (an existing file is changed on the Edit page)"
            )
        if problems:
            raise RejectedEdit(problems)
        return path

    def case_path(self, name: str, *, new: bool = False) -> Path:
        """A case file, relative to the cases folder; as :meth:`rule_path`, messages naming
        it ``tests/cases/NAME``. ``new``: it may not exist yet (an existing case file holds
        other services' cases, which a new service's would replace)."""
        path = _case_path(name)
        shown = CASES + path.as_posix()
        problems = _tree_problems(self.cases_dir, path, CASES)
        if new and not problems and (self.cases_dir / path).exists():
            problems.append(
                f"{_shown(shown)}: the file exists already and holds other services' cases; a new "
                "service's cases go in a file of their own"
            )
        if problems:
            raise RejectedEdit(problems)
        return path

    # -- proposing ----------------------------------------------------------------------

    def propose(
        self, rel: str, text: str, base_version: str | None = None, cases: dict[str, str] | None = None
    ) -> Proposal:
        """One file changed (and the cases edited with it): :meth:`propose_change`."""
        return self.propose_change({rel: text}, base_version, cases)

    def propose_change(
        self,
        files: dict[str, str],
        base_version: str | None = None,
        cases: dict[str, str] | None = None,
        *,
        new_service: bool = False,
    ) -> Proposal:
        """Apply the change to a scratch copy and check it; nothing live is touched.

        ``files`` maps rule files (relative to the rules root: catalog.yaml, rules/…) to
        their new text; several at once when one change spans files (a new service needs
        its catalogue entry and its rule file together: either alone is refused). ``cases``
        maps case files (relative to the cases folder) to edited text: a threshold change
        is checked against the boundary cases edited with it, and an edited case file is
        read and its services' cases run even when no rule changed. Every message names files
        relative to the rules root or the cases folder, never a server path. A path that
        cannot be written is refused (RejectedEdit) before anything is; with
        ``new_service`` every file but catalog.yaml must be new too."""
        from engine.services.cases import CaseFileError, check_case, load_cases
        from engine.services.lint import lint_catalogue
        from engine.services.recommend import Engine

        if not files:
            raise RejectedEdit(["a change needs at least one rule or catalogue file"])
        paths = _each_path(files, lambda rel: self.rule_path(rel, new=new_service))
        case_paths = _each_path(cases or {}, lambda name: self.case_path(name, new=new_service))
        first = next(iter(files))
        base = base_version or self.base_version()
        changed = [
            *(p.as_posix() for p in paths.values()),
            *(CASES + p.as_posix() for p in case_paths.values()),
        ]
        with tempfile.TemporaryDirectory(prefix="lifeevents-proposal-") as scratch:
            tree = Path(scratch)
            _copy_tree(self.root, tree)
            for rel, text in [*files.items(), *(cases or {}).items()]:
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError as exc:  # a lone surrogate pasted into the editor
                    line = text.count("\n", 0, exc.start) + 1
                    shown = rel if rel in files else CASES + rel
                    return Proposal(first, base, None, problems=[f"{shown}:{line}: not valid Unicode text"])
            case_dir = tree / ".cases" if cases else self.cases_dir
            if cases and self.cases_dir.is_dir():
                shutil.copytree(self.cases_dir, case_dir)
            writes = [(rel, tree / paths[rel], text) for rel, text in files.items()]
            writes += [
                (CASES + case_paths[name].as_posix(), case_dir / case_paths[name], body)
                for name, body in (cases or {}).items()
            ]
            for shown, target, text in writes:
                try:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(text.encode("utf-8"))
                except OSError as exc:  # the paths were checked: a last guard, naming no server path
                    problem = f"{shown}: cannot be written ({exc.strerror})"
                    return Proposal(first, base, None, problems=[problem], files=changed)

            def tidy(message: str) -> str:
                for prefix, shown in ((case_dir, CASES), (self.cases_dir, CASES), (tree, "")):
                    message = message.replace(f"{prefix}/", shown)
                return message

            def refused(catalogue: Catalogue | None = None, **found: list[str]) -> Proposal:
                return Proposal(first, base, catalogue, files=changed, **found)

            try:
                candidate = load_catalogue(tree)
            except CatalogueError as exc:
                return refused(problems=[tidy(str(p)) for p in exc.problems])
            except RecursionError:  # the loader bounds nesting; this is the last guard
                return refused(problems=[f"{first}:1: nested too deeply"])
            try:
                engine = Engine(candidate)
            except (ValueError, ArithmeticError, RecursionError) as exc:
                return refused(catalogue=candidate, problems=[f"{first}: does not compile: {tidy(str(exc))}"])
            proposal = Proposal(
                first, base, candidate, lint=[tidy(str(p)) for p in lint_catalogue(candidate)], files=changed
            )
            live = self.current_or_none()
            proposal.affected = affected_services(live, candidate)
            # The services whose cases changed are checked too, not only those whose rules
            # did: a case edited beside an unchanged rule was saved unread, and a broken
            # one then failed `lifeevents validate` and every later check of its service.
            before = _services_in_live_cases(self.cases_dir, case_paths.values())
            try:
                edited = services_checked_by([case_dir / path for path in case_paths.values()])
                proposal.checked = sorted(set(proposal.affected) | edited | before)
                found = load_cases(case_dir, set(proposal.checked)) if proposal.checked else []
                for case in found:
                    proposal.failed_cases.extend(tidy(m) for m in check_case(engine, case))
            except CaseFileError as exc:
                proposal.failed_cases.append(tidy(str(exc)))
            else:
                # `lifeevents validate` wants a case for every service: a new one comes
                # with its cases in the same change, and an edit of a case file may not
                # take the last case of a service away.
                checked = {sid for case in found for sid in (*case.output, *(case.partner_output or {}))}
                new = [sid for sid in proposal.affected if live is not None and sid not in live.services]
                proposal.failed_cases.extend(
                    f"{sid}: a new service needs at least one test case under {CASES}"
                    for sid in new
                    if sid not in checked
                )
                proposal.failed_cases.extend(
                    f"{sid}: no test case under {CASES} checks it any more; every service needs one"
                    for sid in sorted(before)
                    if sid in candidate.services and sid not in checked
                )
        return proposal

    def case_files(self, services: set[str]) -> dict[str, str]:
        """The case files (relative to the cases folder) that check one of ``services``."""
        from engine.services.cases import load_cases

        if not self.cases_dir.is_dir():
            return {}
        names = {
            Path(c.file).relative_to(self.cases_dir).as_posix() for c in load_cases(self.cases_dir, services)
        }
        return {name: (self.cases_dir / name).read_text(encoding="utf-8") for name in sorted(names)}

    def current_or_none(self) -> Catalogue | None:
        try:
            return self.current()
        except CatalogueError:
            return None

    # -- saving --------------------------------------------------------------------------

    def save(
        self,
        rel: str,
        text: str,
        base_version: str,
        author: str,
        reason: str,
        cases: dict[str, str] | None = None,
    ) -> Version:
        """One file (and the cases edited with it) as one version: :meth:`save_change`."""
        return self.save_change({rel: text}, base_version, author, reason, cases)

    def save_change(
        self,
        files: dict[str, str],
        base_version: str,
        author: str,
        reason: str,
        cases: dict[str, str] | None = None,
        *,
        new_service: bool = False,
    ) -> Version:
        """Check the change again under the lock and save it whole as one version: every
        rule file and case file of it is recorded in one snapshot and made live by one
        journaled commit, so a refusal or a crash leaves all of them as they were or all
        as saved, never some. ``new_service``: as in :meth:`propose_change`."""
        if not author.strip() or not reason.strip():
            raise RejectedEdit(["a save needs who and why"])
        paths = {rel: path.as_posix() for rel, path in _each_path(files, self.rule_path).items()}
        named_cases = {
            CASES + path.as_posix(): (cases or {})[name]
            for name, path in _each_path(cases or {}, self.case_path).items()
        }
        with self._failing_as_nothing_saved("rules.save", author, reason), self._lock():
            self._reconcile()
            current = tree_version(self.root)
            now = self.base_version()
            if now != base_version:
                raise StaleEdit(base_version, now)
            proposal = self.propose_change(files, base_version, cases or None, new_service=new_service)
            if not proposal.ok:
                raise RejectedEdit(proposal.problems + proposal.lint + proposal.failed_cases)
            self._ensure_baseline()
            have = self._live_bytes()
            wanted = dict(have)
            for rel, text in files.items():
                wanted[paths[rel]] = text.encode("utf-8")
            for rel, body in named_cases.items():
                wanted[rel] = body.encode("utf-8")
            changed = sorted(rel for rel in wanted if wanted[rel] != have.get(rel))
            version = self._commit(wanted, author, reason, changed, parent=current, event="rules.save")
        return version

    def restore(self, version_id: int, author: str, reason: str) -> Version:
        """Bring back an earlier version as a new version (history is never rewritten)."""
        target = self._snapshot_dir(version_id)
        if not (target / "meta.json").is_file():
            raise RejectedEdit([f"no version {version_id}"])
        why = f"restore version {version_id}: {reason}"
        with self._failing_as_nothing_saved("rules.restore", author, why), self._lock():
            self._reconcile()
            self._ensure_baseline()
            current = tree_version(self.root)
            wanted = _snapshot_bytes(target)
            have = self._live_bytes()
            if not _tracks_cases(wanted):  # an older snapshot: the live cases stay
                wanted |= {rel: data for rel, data in have.items() if rel.startswith(CASES)}
            changed = sorted(rel for rel in set(wanted) | set(have) if wanted.get(rel) != have.get(rel))
            return self._commit(wanted, author, why, changed, parent=current, event="rules.restore")

    @contextlib.contextmanager
    def _failing_as_nothing_saved(self, event: str, author: str, reason: str) -> Iterator[None]:
        """A write failure (a full disk) anywhere in a save or a restore is reported as one:
        SaveFailed, audited. _commit undoes and reports its own; this covers the repair and
        the baseline recorded before it, which raised a bare OSError the pages did not
        expect. Nothing of the change is live then: the commit had not begun."""
        try:
            yield
        except SaveFailed:
            raise
        except OSError as exc:
            self._audit_failure(event, author, reason, [], exc)
            raise SaveFailed(f"nothing was saved: bringing the history up to date failed ({exc})") from exc

    def _commit(
        self, wanted: dict[str, bytes], author: str, reason: str, files: list[str], parent: str, event: str
    ) -> Version:
        """Record the version first, then make it live (the protocol in the class docstring)."""
        before = self._live_bytes()
        versions = self.history()
        number = versions[-1].id + 1 if versions else 1
        version = Version(number, files_version(wanted), author, _now(), reason, files, parent=parent)
        staging = self.history_dir / f".{number}.staging"
        snapshot = self._snapshot_dir(number)
        journal = self.history_dir / JOURNAL
        try:
            shutil.rmtree(staging, ignore_errors=True)
            _write_snapshot(staging, wanted, version, self._last_snapshot(versions))
            atomic_write(journal, json.dumps({"apply": number}))
            os.replace(staging, snapshot)  # the record: a snapshot appears whole or not at all
            _fsync_dir(self.history_dir)
        except BaseException as exc:
            # Nothing live was touched. The journal (if written) names a snapshot that does
            # not exist: drop it now, or _reconcile will.
            shutil.rmtree(staging, ignore_errors=True)
            if snapshot.exists():  # named, but its directory entry may not be durable
                self._undo(number, before)
            else:
                with contextlib.suppress(OSError):
                    journal.unlink()
            self._audit_failure(event, author, reason, files, exc)
            if isinstance(exc, OSError):
                raise SaveFailed(f"nothing was saved: recording version {number} failed: {exc}") from exc
            raise
        try:
            self._apply(wanted)
        except BaseException as exc:
            self._undo(number, before)
            self._audit_failure(event, author, reason, files, exc)
            if isinstance(exc, OSError):
                raise SaveFailed(
                    f"nothing was saved: writing the rules failed ({exc}); the previous version stays live"
                ) from exc
            raise
        # The change is live and recorded: a failure from here on does not undo it
        # (_reconcile finishes removing the journal).
        with contextlib.suppress(OSError):
            journal.unlink()
            _fsync_dir(self.history_dir)
        self.audit.record(
            event, who=author, reason=reason, version=version.version, files=files, number=number
        )
        return version

    def _undo(self, number: int, before: dict[str, bytes]) -> None:
        """Put the live files back and set the record aside; a crash midway is finished by
        _reconcile (the journal stays until the very end and its snapshot is gone first)."""
        snapshot = self._snapshot_dir(number)
        dropped = self.history_dir / f".{number}.dropped"
        try:
            os.replace(snapshot, dropped)
            _fsync_dir(self.history_dir)
        except OSError as exc:
            raise SaveFailed(
                f"version {number} could not be set aside after a failed write ({exc}); "
                "it will be completed at the next start"
            ) from exc
        try:
            self._apply(before)
            shutil.rmtree(dropped, ignore_errors=True)
            (self.history_dir / JOURNAL).unlink()
            _fsync_dir(self.history_dir)
        except OSError as exc:
            raise SaveFailed(
                f"nothing was saved, but putting the previous files back failed ({exc}); "
                "the next start puts them back"
            ) from exc

    def _apply(self, wanted: dict[str, bytes]) -> list[str]:
        """Make the live files those of ``wanted``: each file replaced atomically. The
        live cases are left alone when ``wanted`` holds none (a snapshot from before the
        cases were versioned)."""
        have = self._live_bytes()
        changed = []
        for rel, data in wanted.items():
            if have.get(rel) != data:
                atomic_write(self._live_path(rel), data)
                changed.append(rel)
        tracks_cases = _tracks_cases(wanted)
        for rel in set(have) - set(wanted):
            if rel.startswith(CASES) and not tracks_cases:
                continue
            self._live_path(rel).unlink()
            _fsync_dir(self._live_path(rel).parent)
            changed.append(rel)
        return sorted(changed)

    def _live_bytes(self) -> dict[str, bytes]:
        """The live files of a version: the rules and the test cases."""
        return {**_tree_bytes(self.root), **_case_bytes(self.cases_dir)}

    def _live_path(self, rel: str) -> Path:
        if rel.startswith(CASES):
            return self.cases_dir / rel.removeprefix(CASES)
        return self.root / rel

    def _differs_from(self, snapshot: Path) -> bool:
        """Do the live files differ from a recorded version's (its cases, when it has them)?"""
        recorded = _snapshot_bytes(snapshot)
        live = self._live_bytes()
        if not _tracks_cases(recorded):
            live = {rel: data for rel, data in live.items() if not rel.startswith(CASES)}
        return live != recorded

    def _reconcile(self) -> None:
        """Make the live tree and the history agree after a crash (class docstring). Call
        with the lock held."""
        for leftover in [*self.history_dir.glob(".*.staging"), *self.history_dir.glob(".*.dropped")]:
            shutil.rmtree(leftover, ignore_errors=True)
        leftovers = [*self.root.glob(".catalog.yaml.*.tmp"), *(self.root / "rules").rglob(".*.tmp")]
        if self.cases_dir.is_dir():
            leftovers += self.cases_dir.rglob(".*.tmp")
        for tmp in leftovers:
            with contextlib.suppress(OSError):
                tmp.unlink()
        journal = self.history_dir / JOURNAL
        if journal.is_file():
            entry = json.loads(journal.read_text(encoding="utf-8") or "{}")
            number = entry.get("apply", entry.get("restore"))  # "restore": written before 2026-12
            snapshot = self._snapshot_dir(number) if isinstance(number, int) else None
            if snapshot is not None and (snapshot / "meta.json").is_file():
                self._apply(_snapshot_bytes(snapshot))
                self.audit.record("recovery.rolled_forward", who="(recovery)", number=number)
            else:
                versions = self.history()
                if versions:
                    self._apply(_snapshot_bytes(self._snapshot_dir(versions[-1].id)))
                self.audit.record("recovery.dropped_incomplete", who="(recovery)", number=number)
            journal.unlink()
            _fsync_dir(self.history_dir)
        versions = self.history()
        if versions and self._differs_from(self._snapshot_dir(versions[-1].id)):
            self._record_live(
                "(recovery)",
                "the live rules differed from the last recorded version (changed outside the "
                "staff area); recorded as found",
                parent=versions[-1].version,
            )

    # -- history -------------------------------------------------------------------------

    def history(self) -> list[Version]:
        out = []
        for meta in self.history_dir.glob("*/meta.json"):
            if meta.parent.name.isdigit():
                out.append(Version(**json.loads(meta.read_text(encoding="utf-8"))))
        return sorted(out, key=lambda v: v.id)

    def diff(self, a: int, b: int) -> str:
        """A unified diff of the files between two versions."""
        left, right = _snapshot_files(self._snapshot_dir(a)), _snapshot_files(self._snapshot_dir(b))
        lines: list[str] = []
        for rel in sorted(set(left) | set(right)):
            lines.extend(
                difflib.unified_diff(
                    left.get(rel, "").splitlines(keepends=True),
                    right.get(rel, "").splitlines(keepends=True),
                    fromfile=f"v{a}/{rel}",
                    tofile=f"v{b}/{rel}",
                )
            )
        return "".join(lines)

    def snapshot_path(self, version_id: int) -> Path:
        return self._snapshot_dir(version_id)

    def _snapshot_dir(self, version_id: int) -> Path:
        return self.history_dir / str(version_id)

    def _last_snapshot(self, versions: list[Version]) -> Path | None:
        return self._snapshot_dir(versions[-1].id) if versions else None

    def _ensure_baseline(self) -> None:
        if not self.history():
            self._record_live("(baseline)", "the rules as found before the first staff edit", parent=None)

    def _record_live(self, author: str, reason: str, parent: str | None) -> Version:
        """Record the live files as they are (nothing live changes, so no journal)."""
        files = self._live_bytes()
        versions = self.history()
        number = versions[-1].id + 1 if versions else 1
        version = Version(number, files_version(files), author, _now(), reason, [], parent)
        staging = self.history_dir / f".{number}.staging"
        shutil.rmtree(staging, ignore_errors=True)
        _write_snapshot(staging, files, version, self._last_snapshot(versions))
        os.replace(staging, self._snapshot_dir(number))
        _fsync_dir(self.history_dir)
        self.audit.record("rules.recorded", who=author, reason=reason, version=version.version, number=number)
        return version

    def _audit_failure(
        self, event: str, author: str, reason: str, files: list[str], exc: BaseException
    ) -> None:
        self.audit.record(
            f"{event}.failed", who=author, reason=reason, files=files, detail=f"{type(exc).__name__}: {exc}"
        )

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        with open(self.history_dir / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# A name may have 255 bytes on Linux file systems (NAME_MAX); a live file is written through
# a temporary ".NAME.XXXXXXXX.tmp" beside it (atomic_write), 14 bytes longer, so a staff
# name stops well short. A whole path stops at 1,000 bytes: the rules root, the history
# folder or the scratch copy come on top of it, under the system's 4,096 (PATH_MAX).
MAX_NAME_BYTES = 200
MAX_PATH_BYTES = 1000


def _shown(text: str) -> str:
    """A path or name as a message quotes it: a name of 300 characters would fill the screen."""
    return text if len(text) <= 80 else text[:60] + "…" + text[-15:]


def _length_problems(shown: str, path: Path) -> list[str]:
    """A path the file system would refuse (ENAMETOOLONG), said before it is tried."""
    for name in path.parts:
        size = len(name.encode("utf-8"))
        if size > MAX_NAME_BYTES:
            return [
                f"{_shown(shown)}: a file or folder name may have at most {MAX_NAME_BYTES} bytes; "
                f"{_shown(name)} has {size}"
            ]
    size = len(path.as_posix().encode("utf-8"))
    if size > MAX_PATH_BYTES:
        return [f"{_shown(shown)}: a path may have at most {MAX_PATH_BYTES} bytes; this one has {size}"]
    return []


def _typed_path(typed: str) -> Path:
    """A path as typed into a field: not blank, and text a file system can take."""
    if not typed.strip():
        raise RejectedEdit(["the path is empty"])
    try:
        typed.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate pasted into the field
        raise RejectedEdit([f"{_shown(ascii(typed))}: the path is not valid Unicode text"]) from None
    if any(ord(c) < 32 or ord(c) == 127 for c in typed):  # a NUL stops os calls; a line break misleads
        raise RejectedEdit(
            [f"{_shown(ascii(typed))}: the path holds a control character (a tab, a line break…)"]
        )
    return Path(typed)


def _rule_path(rel: str) -> Path:
    """A rule or catalogue file's path as typed, refused if staff may not write there."""
    path = _typed_path(rel)
    if (
        path.is_absolute()
        or ".." in path.parts
        or not (path.as_posix() == "catalog.yaml" or (path.parts[0] == "rules" and path.suffix == ".yaml"))
    ):
        raise RejectedEdit([f"{_shown(rel)}: staff may edit catalog.yaml and rules/**/*.yaml only"])
    problems = _length_problems(rel, path)
    if problems:
        raise RejectedEdit(problems)
    return path


def _case_path(name: str) -> Path:
    """A case file's path relative to the cases folder, refused if it would leave it."""
    path = _typed_path(name)
    if path.is_absolute() or ".." in path.parts or path.suffix != ".yaml":
        raise RejectedEdit([f"{_shown(name)}: a case file is a .yaml file inside the cases folder"])
    problems = _length_problems(CASES + name, path)
    if problems:
        raise RejectedEdit(problems)
    return path


def _tree_problems(base: Path, path: Path, shown_as: str = "") -> list[str]:
    """Why the live tree under ``base`` cannot take a file at ``path``: a folder on the way
    is a file, or is named like a YAML file (the loaders would read it as one), or the path
    is a folder itself. Paths are named as the user knows them (``shown_as`` + ``path``:
    relative to the rules root, or under tests/cases/), never with ``base``."""
    shown = _shown(shown_as + path.as_posix())
    for folder in reversed(path.parents[:-1]):
        named = _shown(shown_as + folder.as_posix())
        if (base / folder).exists() and not (base / folder).is_dir():
            return [f"{shown}: {named} is a file, not a folder"]
        if folder.suffix == ".yaml":
            return [f"{shown}: {named} is named like a YAML file, not a folder"]
    if (base / path).is_dir():
        return [f"{shown}: is a folder, not a file"]
    return []


def _each_path(named: dict[str, str], check: Callable[[str], Path]) -> dict[str, Path]:
    """Every path of a change checked, and all of their problems reported at once."""
    paths: dict[str, Path] = {}
    problems: list[str] = []
    for name in named:
        try:
            paths[name] = check(name)
        except RejectedEdit as exc:
            problems += exc.problems
    if problems:
        raise RejectedEdit(problems)
    return paths


def services_checked_by(paths: Iterable[Path]) -> set[str]:
    """The services the cases in these files check; CaseFileError (``file:line``) when one
    cannot be read."""
    from engine.services.cases import read_case_file

    found: set[str] = set()
    for path in paths:
        for case in read_case_file(path):
            for outputs in (case.get("output"), case.get("partner_output")):
                if isinstance(outputs, dict):
                    found |= set(outputs)
    return found


def _services_in_live_cases(cases_dir: Path, names: Iterable[Path]) -> set[str]:
    """The services the live versions of these case files check: those an edit of them
    might leave without a case. A live file that does not read names none."""
    from engine.services.cases import CaseFileError

    found: set[str] = set()
    for name in names:
        if (cases_dir / name).is_file():
            with contextlib.suppress(CaseFileError, OSError):
                found |= services_checked_by([cases_dir / name])
    return found


def affected_services(old: Catalogue | None, new: Catalogue) -> list[str]:
    """Services whose rule, catalogue entry or parameters differ between two catalogues."""
    if old is None:
        return sorted(new.services)
    changed_params = {
        name
        for name in set(old.parameters) | set(new.parameters)
        if old.parameters.get(name) != new.parameters.get(name)
    }
    out = []
    for sid in new.services:
        if old.services.get(sid) != new.services[sid] or old.rules.get(sid) != new.rules.get(sid):
            out.append(sid)
            continue
        used = parameters_used(new, sid)
        if used & changed_params:
            out.append(sid)
    return sorted(out)


def parameters_used(catalogue: Catalogue, sid: str) -> set[str]:
    from engine.language.rules import Compare as _Compare
    from engine.language.rules import ParamRef, expr_parts, walk

    names: set[str] = set()
    for rule in catalogue.rules.get(sid, {}).values():
        exprs = []
        for node in walk(rule.eligibility):
            if isinstance(node, _Compare):
                exprs += [node.lhs, node.rhs]
        for note in rule.notes:
            for node in walk(note.when):
                if isinstance(node, _Compare):
                    exprs += [node.lhs, node.rhs]
        for money in (rule.amount, rule.fee):
            if money is not None:
                exprs.append(money.value)
        if rule.deadline is not None:
            exprs += [
                e
                for e in (rule.deadline.base, rule.deadline.days, rule.deadline.months, rule.deadline.years)
                if e is not None
            ]
        for expr in exprs:
            names |= {p.name for p in expr_parts(expr) if isinstance(p, ParamRef)}
    overrides = {p.overrides for p in catalogue.parameters.values() if p.overrides and p.overrides in names}
    return names | {p.name for p in catalogue.parameters.values() if p.overrides in names} | overrides
