"""The HTTP API's logs: one JSON object a line, each with the id of the request it is about.

Never a profile, never a personal fact. The formatter writes only the fields it names
(``FIELDS``): a record's other attributes, whatever a caller passed with ``extra=``, are
dropped, so a careless ``extra={"profile": ...}`` cannot reach the log. An exception is
written as its type and the code locations it passed through, never its message, because
a message can quote the input it failed on. The access line is written by the API's
request middleware (engine/interfaces/api.py) with the route template, the path (cut short), the
status and the duration: no body, no query string, no client address (the reverse proxy
in front keeps addresses under its own retention rules; docs/deployment.md).

The request id comes from the ``X-Request-ID`` header when a proxy or caller sent a sane
one (at most 64 characters of letters, digits and ``._:-``: it is written into every log
line, so nothing else is trusted), else it is made here; the answer carries it back.
"""

from __future__ import annotations

import json
import logging
import os
import re
import traceback
import uuid
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REQUEST_ID_HEADER = b"x-request-id"
ACCESS_LOG_ENV = "LIFEEVENTS_ACCESS_LOG"  # "0": no access lines (lifeevents serve --no-access-log)
ACCESS_LOGGER = "lifeevents.access"
MAX_REQUEST_ID = 64
MAX_LOGGED_PATH = 200
_SANE_REQUEST_ID = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._:-]*")

# The fields a line may carry besides time, level, logger, pid and message.
FIELDS = ("request_id", "method", "route", "path", "status", "duration_ms")

# Set for the duration of a request by the middleware; read by the formatter, so that a
# line written anywhere while the request runs (the error handler, the engine, a worker
# thread: contextvars follow into FastAPI's thread pool) names its request.
current_request_id: ContextVar[str | None] = ContextVar("lifeevents_request_id", default=None)


def enabled_by_environment() -> bool:
    return os.environ.get(ACCESS_LOG_ENV, "1") not in ("0", "false", "no", "off")


def request_id_from(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The caller's ``X-Request-ID`` when it is sane, else a new id (32 hex digits)."""
    for name, value in headers:
        if name.lower() == REQUEST_ID_HEADER:
            if len(value) <= MAX_REQUEST_ID and _SANE_REQUEST_ID.fullmatch(value):
                return value.decode("ascii")
            break  # the first one counts; a hostile one is replaced, not repaired
    return uuid.uuid4().hex


def cut(text: str, limit: int = MAX_LOGGED_PATH) -> str:
    """``text`` at most ``limit`` characters, saying how much was left out: a client
    chooses the length of its path (up to the 16 KiB request head)."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…[{len(text) - limit} more characters]"


def where(exc: BaseException, depth: int = 8) -> str:
    """An exception's type and the code locations it passed through, innermost first."""
    frames = " < ".join(
        f"{Path(f.filename).name}:{f.lineno} {f.name}"
        for f in reversed(traceback.extract_tb(exc.__traceback__)[-depth:])
    )
    return f"{type(exc).__name__} at {frames}" if frames else type(exc).__name__


class JsonFormatter(logging.Formatter):
    """One JSON object per record, ASCII only (a lone surrogate or a control character in
    a path is escaped, never able to break the line or the stream's encoding)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or current_request_id.get()
        if request_id:
            line["request_id"] = request_id
        for name in FIELDS[1:]:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info and record.exc_info[1] is not None:
            line["exception"] = where(record.exc_info[1])
        return json.dumps(line, ensure_ascii=True, default=str)


def log_config(access_log: bool = True) -> dict[str, Any]:
    """The logging of ``lifeevents serve`` (uvicorn's ``log_config``): every line JSON,
    the access lines on stdout and the rest on stderr as uvicorn has them. uvicorn's own
    access log is off: ours has the request id and route. Repeated lines (asyncio's failed
    accept() under a flood, uvicorn's warnings) are limited per kind."""
    json_handler = {"class": "logging.StreamHandler", "formatter": "json"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "engine.interfaces.logs.JsonFormatter"}},
        "filters": {"repeat_limit": {"()": "engine.interfaces.connection_guard.RepeatLimit"}},
        "handlers": {
            "default": {**json_handler, "stream": "ext://sys.stderr", "filters": ["repeat_limit"]},
            "access": {**json_handler, "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "lifeevents": {"handlers": ["default"], "level": "INFO", "propagate": False},
            ACCESS_LOGGER: {
                "handlers": ["access"],
                "level": "INFO" if access_log else "WARNING",
                "propagate": False,
            },
            "asyncio": {"handlers": ["default"], "level": "WARNING", "propagate": False},
        },
    }
