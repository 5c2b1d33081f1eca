"""Staff credentials: scrypt hashes in a file that lives outside the repository.

``LIFEEVENTS_STAFF_CREDENTIALS`` names a file of lines ``username:scrypt$<salt-hex>$<hash-hex>``
(``lifeevents staff-passwd USER`` prints one). Without the variable, or when the file
cannot be read, the staff area is disabled: there is no default account, ever.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

ENV = "LIFEEVENTS_STAFF_CREDENTIALS"
# scrypt's interactive-login cost (n=2^14, r=8): ~50 ms and 16 MiB per check.
_N, _R, _P, _LEN = 2**14, 8, 1, 32


class NoCredentials(RuntimeError):
    """No staff credential is configured: the staff area stays shut."""


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=_LEN)
    return f"scrypt${salt.hex()}${digest.hex()}"


def credential_line(username: str, password: str) -> str:
    if not username or ":" in username or username.strip() != username:
        raise ValueError("a username is non-empty, without ':' or surrounding spaces")
    if not password:
        raise ValueError("an empty password is not a password")
    return f"{username}:{hash_password(password)}"


def load_credentials(path: str | os.PathLike | None = None) -> dict[str, str]:
    """username -> ``scrypt$salt$hash``; NoCredentials when none is configured."""
    where = path if path is not None else os.environ.get(ENV)
    if not where:
        raise NoCredentials(f"{ENV} is not set")
    try:
        text = Path(where).read_text(encoding="utf-8")
    except OSError as exc:
        raise NoCredentials(f"{ENV}: cannot read {where}: {exc.strerror}") from None
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        user, stored = line.split(":", 1)
        if stored.startswith("scrypt$") and stored.count("$") == 2:
            out[user.strip()] = stored.strip()
    if not out:
        raise NoCredentials(f"{ENV}: {where} holds no scrypt credential line")
    return out


def verify(stored: str, password: str) -> bool:
    try:
        _, salt_hex, hash_hex = stored.split("$")
        salt, expected = bytes.fromhex(salt_hex), bytes.fromhex(hash_hex)
    except ValueError:
        return False
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=len(expected))
    return hmac.compare_digest(digest, expected)


def check_login(username: str, password: str, credentials: dict[str, str]) -> bool:
    """True when the user exists and the password matches (the same work either way)."""
    stored = credentials.get(username)
    # Hash against a dummy when the user is unknown, so timing does not tell users apart.
    ok = verify(stored or hash_password("", b"\0" * 16), password)
    return ok and stored is not None
