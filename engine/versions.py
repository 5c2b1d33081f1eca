"""Versions of the rules: checked edits, atomic saves, history, diff and restore.

Policy staff change one file at a time (a parameter, a rule, the catalogue). A change is
first *proposed*: applied to a scratch copy of the whole tree, loaded and validated,
linted, and the affected services' test cases run. Only a proposal without problems can be
*saved*, and only over the version it was based on (a stale copy is refused, so two editors
cannot silently overwrite each other). A save writes the file atomically (a temporary
file, fsync, ``os.replace``), so a crash leaves the previous rules intact and loadable, and
records who, when and why, with a full snapshot of the tree for diff and restore.
"""

from __future__ import annotations

import contextlib
import difflib
import fcntl
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from engine.catalog import Catalogue
from engine.loader import CatalogueError, load_catalogue

TRACKED = ("catalog.yaml", "rules")


class StaleEdit(RuntimeError):
    """The rules changed since the editor loaded them."""


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

    @property
    def ok(self) -> bool:
        return not (self.problems or self.lint or self.failed_cases)


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader (or a crash) sees old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _copy_tree(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / "catalog.yaml", dst / "catalog.yaml")
    shutil.copytree(src / "rules", dst / "rules", dirs_exist_ok=True, ignore=shutil.ignore_patterns(".*.tmp"))


def _tree_files(root: Path) -> dict[str, str]:
    files = {"catalog.yaml": (root / "catalog.yaml").read_text(encoding="utf-8")}
    for path in sorted((root / "rules").rglob("*.yaml")):
        files[path.relative_to(root).as_posix()] = path.read_text(encoding="utf-8")
    return files


class RuleStore:
    """The rules under ``root`` with their history under ``history`` (default root/.history)."""

    def __init__(self, root: Path | str, history: Path | str | None = None, cases: Path | str | None = None):
        self.root = Path(root)
        self.history_dir = Path(history) if history else self.root / ".history"
        self.cases_dir = Path(cases) if cases else self.root / "tests" / "cases"
        self.history_dir.mkdir(parents=True, exist_ok=True)
        self._recover()

    # -- reading ----------------------------------------------------------------------

    def current(self) -> Catalogue:
        return load_catalogue(self.root)

    def current_version(self) -> str:
        return self.current().version

    def read(self, rel: str) -> str:
        return (self.root / self._safe(rel)).read_text(encoding="utf-8")

    def _safe(self, rel: str) -> Path:
        path = Path(rel)
        if (
            path.is_absolute()
            or ".." in path.parts
            or not (
                path.as_posix() == "catalog.yaml" or (path.parts[0] == "rules" and path.suffix == ".yaml")
            )
        ):
            raise RejectedEdit([f"{rel}: staff may edit catalog.yaml and rules/**/*.yaml only"])
        return path

    # -- proposing ----------------------------------------------------------------------

    def propose(
        self, rel: str, text: str, base_version: str | None = None, cases: dict[str, str] | None = None
    ) -> Proposal:
        """Apply the edit to a scratch copy and check it; nothing live is touched.

        ``cases`` maps case files (relative to the cases folder) to edited text: a
        threshold change is checked against the boundary cases edited with it. Every
        message names files relative to the rules root or the cases folder, never a
        server path."""
        from engine.cases import CaseFileError, check_case, load_cases
        from engine.lint import lint_catalogue
        from engine.recommend import Engine

        rel_path = self._safe(rel)
        base = base_version or self.current_version()
        with tempfile.TemporaryDirectory(prefix="lifeevents-proposal-") as scratch:
            tree = Path(scratch)
            _copy_tree(self.root, tree)
            (tree / rel_path).parent.mkdir(parents=True, exist_ok=True)
            (tree / rel_path).write_text(text, encoding="utf-8")
            case_dir = self.cases_dir
            if cases:
                case_dir = tree / ".cases"
                if self.cases_dir.is_dir():
                    shutil.copytree(self.cases_dir, case_dir)
                for name, body in cases.items():
                    target = case_dir / case_path(name)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(body, encoding="utf-8")

            def tidy(message: str) -> str:
                for prefix, shown in ((case_dir, "tests/cases"), (self.cases_dir, "tests/cases"), (tree, "")):
                    message = message.replace(f"{prefix}/", f"{shown}/" if shown else "")
                return message

            try:
                candidate = load_catalogue(tree)
            except CatalogueError as exc:
                return Proposal(rel, base, None, problems=[tidy(str(p)) for p in exc.problems])
            try:
                engine = Engine(candidate)
            except ValueError as exc:
                return Proposal(rel, base, candidate, problems=[f"{rel}: does not compile: {tidy(str(exc))}"])
            proposal = Proposal(rel, base, candidate, lint=[tidy(str(p)) for p in lint_catalogue(candidate)])
            proposal.affected = affected_services(self.current_or_none(), candidate)
            if proposal.affected:
                try:
                    for case in load_cases(case_dir, set(proposal.affected)):
                        proposal.failed_cases.extend(tidy(m) for m in check_case(engine, case))
                except CaseFileError as exc:
                    proposal.failed_cases.append(tidy(str(exc)))
        return proposal

    def case_files(self, services: set[str]) -> dict[str, str]:
        """The case files (relative to the cases folder) that check one of ``services``."""
        from engine.cases import load_cases

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

    def save(self, rel: str, text: str, base_version: str, author: str, reason: str) -> Version:
        if not author.strip() or not reason.strip():
            raise RejectedEdit(["a save needs who and why"])
        with self._lock():
            current = self.current_version()
            if current != base_version:
                raise StaleEdit(
                    f"the rules changed since you opened them (you had {base_version}, now {current}); "
                    "reload, reapply your change and save again"
                )
            proposal = self.propose(rel, text, base_version)
            if not proposal.ok:
                raise RejectedEdit(proposal.problems + proposal.lint + proposal.failed_cases)
            self._ensure_baseline(current)
            atomic_write(self.root / self._safe(rel), text)
            return self._record(author, reason, [rel], parent=current)

    def restore(self, version_id: int, author: str, reason: str) -> Version:
        """Bring back an earlier version as a new version (history is never rewritten)."""
        target = self._snapshot_dir(version_id)
        if not target.is_dir():
            raise RejectedEdit([f"no version {version_id}"])
        with self._lock():
            current = self.current_version()
            self._ensure_baseline(current)
            journal = self.history_dir / "journal.json"
            atomic_write(journal, json.dumps({"restore": version_id}))
            changed = self._apply_snapshot(target)
            journal.unlink()
            return self._record(author, f"restore version {version_id}: {reason}", changed, parent=current)

    def _apply_snapshot(self, snapshot: Path) -> list[str]:
        wanted = _tree_files(snapshot)
        have = _tree_files(self.root)
        changed = []
        for rel, text in wanted.items():
            if have.get(rel) != text:
                atomic_write(self.root / rel, text)
                changed.append(rel)
        for rel in set(have) - set(wanted):
            (self.root / rel).unlink()
            changed.append(rel)
        return sorted(changed)

    def _recover(self) -> None:
        """Finish a restore that a crash interrupted (every file write was atomic)."""
        journal = self.history_dir / "journal.json"
        if journal.is_file():
            target = json.loads(journal.read_text())["restore"]
            self._apply_snapshot(self._snapshot_dir(target))
            journal.unlink()

    # -- history -------------------------------------------------------------------------

    def history(self) -> list[Version]:
        out = []
        for meta in sorted(self.history_dir.glob("*/meta.json"), key=lambda p: int(p.parent.name)):
            out.append(Version(**json.loads(meta.read_text(encoding="utf-8"))))
        return out

    def diff(self, a: int, b: int) -> str:
        """A unified diff of the files between two versions."""
        left, right = _tree_files(self._snapshot_dir(a)), _tree_files(self._snapshot_dir(b))
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

    def _ensure_baseline(self, current: str) -> None:
        if not self.history():
            self._record("(baseline)", "the rules as found before the first staff edit", [], parent=None)

    def _record(self, author: str, reason: str, files: list[str], parent: str | None) -> Version:
        versions = self.history()
        number = versions[-1].id + 1 if versions else 1
        snapshot = self._snapshot_dir(number)
        staging = self.history_dir / f".{number}.staging"
        shutil.rmtree(staging, ignore_errors=True)
        _copy_tree(self.root, staging)
        version = Version(
            number,
            self.current_version(),
            author,
            datetime.now(UTC).isoformat(timespec="seconds"),
            reason,
            files,
            parent,
        )
        (staging / "meta.json").write_text(json.dumps(asdict(version), ensure_ascii=False, indent=2))
        os.replace(staging, snapshot)  # a snapshot appears whole or not at all
        return version

    @contextlib.contextmanager
    def _lock(self):
        with open(self.history_dir / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def case_path(name: str) -> Path:
    """A case file's path relative to the cases folder, refused if it would leave it."""
    path = Path(name)
    if path.is_absolute() or ".." in path.parts or path.suffix != ".yaml":
        raise RejectedEdit([f"{name}: a case file is a .yaml file inside the cases folder"])
    return path


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
        used = _parameters_used(new, sid)
        if used & changed_params:
            out.append(sid)
    return sorted(out)


def _parameters_used(catalogue: Catalogue, sid: str) -> set[str]:
    from engine.rules import Compare as _Compare
    from engine.rules import ParamRef, expr_parts, walk

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
