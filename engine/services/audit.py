"""The staff audit log: sign-ins, failures, lockouts, rule saves, restores and reloads.

One JSON object per line (JSON Lines): ``when`` (UTC), ``event``, ``who`` and, where they
apply, ``address``, ``reason`` (the one the author gave), ``version``, ``number``,
``files`` and ``detail``. The file is only ever appended to: opened with ``O_APPEND``,
each line written with one ``write`` and fsynced before the action goes on.

It never holds a profile or a password: :meth:`AuditLog.record` takes only the fields
above, each a short string, a whole number or a list of file names, and cuts anything
longer than :data:`MAX_FIELD` characters.

Where: ``LIFEEVENTS_AUDIT_LOG`` names the file; without it, ``audit.jsonl`` in the history
folder (``LIFEEVENTS_HISTORY``, default ``ROOT/.history``), beside the versions it speaks of.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

ENV = "LIFEEVENTS_AUDIT_LOG"
FILE_NAME = "audit.jsonl"
MAX_FIELD = 300  # characters kept of one field: a reason, a username, an error message
MAX_FILES = 50

log = logging.getLogger("lifeevents.audit")
_write_lock = threading.Lock()  # one line at a time from this process's threads


def audit_path(history_dir: Path | str) -> Path:
    """The audit log's place: ``LIFEEVENTS_AUDIT_LOG``, else ``<history>/audit.jsonl``."""
    return Path(os.environ.get(ENV) or Path(history_dir) / FILE_NAME)


def _short(value: str) -> str:
    return value if len(value) <= MAX_FIELD else value[: MAX_FIELD - 1] + "…"


class AuditLog:
    def __init__(self, path: Path | str):
        self.path = Path(path)

    @classmethod
    def beside(cls, history_dir: Path | str) -> AuditLog:
        return cls(audit_path(history_dir))

    def record(
        self,
        event: str,
        *,
        who: str,
        address: str | None = None,
        reason: str | None = None,
        version: str | None = None,
        number: int | None = None,
        files: list[str] | None = None,
        detail: str | None = None,
    ) -> bool:
        """Append one line; False (and an error in the server log) when it cannot be written.

        An unwritable audit log does not stop the action: the history still records every
        version, and refusing sign-ins would lock staff out of fixing it."""
        entry: dict[str, object] = {
            "when": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "event": _short(event),
            "who": _short(who),
        }
        for key, value in (
            ("address", address),
            ("reason", reason),
            ("version", version),
            ("detail", detail),
        ):
            if value is not None:
                entry[key] = _short(str(value))
        if number is not None:
            entry["number"] = int(number)
        if files is not None:
            entry["files"] = [_short(str(f)) for f in files[:MAX_FILES]]
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with _write_lock:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, line)
                    os.fsync(fd)
                finally:
                    os.close(fd)
        except OSError as exc:
            log.error("audit log %s: cannot append (%s): %s", self.path, exc.strerror or exc, entry["event"])
            return False
        return True

    def entries(self) -> list[dict]:
        """Every line, oldest first (for tests and the staff pages)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def record_reload(
    rules_root: Path | str, version: str, previous: str, who: str = "staff token", outcome: str = "reloaded"
) -> None:
    """One line for ``POST /admin/reload`` (engine/interfaces/api.py): the API has no history folder of
    its own, so its log is the staff area's (``LIFEEVENTS_AUDIT_LOG``, else beside the
    history under ``LIFEEVENTS_HISTORY`` or ``ROOT/.history``)."""
    history = os.environ.get("LIFEEVENTS_HISTORY") or Path(rules_root) / ".history"
    AuditLog.beside(history).record(
        "rules.reload", who=who, version=version, detail=f"{outcome}; was {previous}"
    )
