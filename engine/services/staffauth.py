"""Staff credentials, sign-in and sessions (OWASP ASVS 4.0 level 2, chapters 2 and 3).

``LIFEEVENTS_STAFF_CREDENTIALS`` names a file of lines ``username:scrypt$N$r$p$<salt-hex>$<hash-hex>``
(``lifeevents staff-passwd USER`` prints one; the older ``scrypt$<salt-hex>$<hash-hex>``
form, n=2^14, is still read and upgraded at the user's next sign-in). Without the
variable, or when the file cannot be read, the staff area is disabled: there is no
default account, ever.

- Passwords (ASVS 2.1): 12 to 128 characters, any characters, no composition rules; not
  one of the 19,640 most common passwords (``engine/data/common-passwords.txt``, compared
  case-insensitively), nor the username, nor one character repeated.
- Storage (ASVS 2.4.1, OWASP Password Storage Cheat Sheet): scrypt N=2^17, r=8, p=1:
  128 MiB and ~0.3-0.5 s per check, a 16-byte random salt, a 32-byte hash.
- Sign-in (ASVS 2.2.1): :class:`LoginThrottle` delays and then locks a username, and an
  address, after repeated failures (parallel attempts counted as if made one after the
  other); an unknown username costs the same scrypt work as a known one (ASVS 2.2 / 3.x:
  no user enumeration by timing or by message).
- Sessions (ASVS 3.3): end after :data:`IDLE_MINUTES` idle or :data:`MAX_HOURS` signed
  in, and when the user's credential line changes (a new password).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import os
import re
import secrets
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from engine.services.audit import AuditLog

ENV = "LIFEEVENTS_STAFF_CREDENTIALS"
COMMON_PASSWORDS = Path(__file__).resolve().parents[1] / "data" / "common-passwords.txt"
MIN_LENGTH, MAX_LENGTH = 12, 128  # ASVS 2.1.1 (at least 12) and 2.1.2 (64 allowed, over 128 refused)
SALT_BYTES, HASH_BYTES = 16, 32  # the least a credential line may carry (shorter ones are refused)
_MAX_MEMORY = 1 << 30  # a credential line asking scrypt for more than 1 GiB is refused


@dataclass(frozen=True)
class ScryptCost:
    n: int
    r: int = 8
    p: int = 1

    @property
    def memory(self) -> int:
        """Bytes one check needs: 128 * r * N * p (128 MiB at N=2^17, r=8)."""
        return 128 * self.r * self.n * self.p

    @property
    def maxmem(self) -> int:
        # OpenSSL checks 128*r*(N+p+2) bytes (V and B) against maxmem; a MiB of margin.
        return 128 * self.r * (self.n + self.p + 2) + (1 << 20)


# OWASP's minimum for scrypt. Read at call time (not bound as a default argument), so that
# tests can lower it through a monkeypatched module attribute without touching production.
COST = ScryptCost(2**17)
LEGACY_COST = ScryptCost(2**14)  # the `scrypt$salt$hash` lines written before 2026-12


class NoCredentials(RuntimeError):
    """No staff credential is configured: the staff area stays shut."""


class WeakPassword(ValueError):
    """A new password that ASVS 2.1 does not allow."""


@dataclass(frozen=True)
class Credential:
    cost: ScryptCost
    salt: bytes
    digest: bytes

    def encode(self) -> str:
        c = self.cost
        return f"scrypt${c.n}${c.r}${c.p}${self.salt.hex()}${self.digest.hex()}"

    @property
    def fingerprint(self) -> str:
        """Changes whenever the line does (a new password): sessions compare it."""
        return hashlib.sha256(self.encode().encode()).hexdigest()[:16]


def parse_credential(stored: str) -> Credential:
    """``scrypt$N$r$p$salt$hash`` or the older ``scrypt$salt$hash``; ValueError says what is wrong."""
    parts = stored.strip().split("$")
    if parts[0] != "scrypt":
        raise ValueError("not a scrypt credential (expected 'scrypt$N$r$p$salt$hash')")
    if len(parts) == 3:
        cost, salt_hex, hash_hex = LEGACY_COST, parts[1], parts[2]
    elif len(parts) == 6:
        try:
            cost = ScryptCost(int(parts[1]), int(parts[2]), int(parts[3]))
        except ValueError:
            raise ValueError("N, r and p must be whole numbers") from None
        salt_hex, hash_hex = parts[4], parts[5]
        if cost.n < 2 or cost.n & (cost.n - 1) or not (1 <= cost.r <= 64 and 1 <= cost.p <= 16):
            raise ValueError(
                f"scrypt N={cost.n} r={cost.r} p={cost.p}: N must be a power of 2, r 1-64, p 1-16"
            )
        if cost.memory > _MAX_MEMORY:
            raise ValueError(f"scrypt N={cost.n} r={cost.r} p={cost.p} needs more than 1 GiB a check")
    else:
        raise ValueError("expected 'scrypt$N$r$p$salt$hash' (or the older 'scrypt$salt$hash')")
    try:
        salt, digest = bytes.fromhex(salt_hex), bytes.fromhex(hash_hex)
    except ValueError:
        raise ValueError("the salt and the hash must be hexadecimal") from None
    if len(salt) < SALT_BYTES:
        raise ValueError(f"the salt is {len(salt)} bytes; at least {SALT_BYTES} are needed")
    if len(digest) < HASH_BYTES:
        raise ValueError(f"the hash is {len(digest)} bytes; at least {HASH_BYTES} are needed")
    return Credential(cost, salt, digest)


def _scrypt(password: str, salt: bytes, cost: ScryptCost, length: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=cost.n, r=cost.r, p=cost.p, maxmem=cost.maxmem, dklen=length
    )


def hash_password(password: str, salt: bytes | None = None, cost: ScryptCost | None = None) -> str:
    cost = cost or COST
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    return Credential(cost, salt, _scrypt(password, salt, cost, HASH_BYTES)).encode()


def verify(stored: str | Credential, password: str) -> bool:
    try:
        credential = stored if isinstance(stored, Credential) else parse_credential(stored)
    except ValueError:
        return False
    digest = _scrypt(password, credential.salt, credential.cost, len(credential.digest))
    return hmac.compare_digest(digest, credential.digest)


# -- new passwords (ASVS 2.1) ------------------------------------------------------------------


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list, lower-cased (engine/data/README.md says where it comes from)."""
    text = COMMON_PASSWORDS.read_text(encoding="utf-8")
    return frozenset(line.strip().casefold() for line in text.splitlines() if line.strip())


def password_problems(password: str, username: str = "") -> list[str]:
    """Why ASVS 2.1 refuses this new password (empty when it is fine). No composition
    rules (2.1.9): length, the common list (2.1.7), and the context (the username)."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"a password has at least {MIN_LENGTH} characters (this one has {len(password)})")
    if len(password) > MAX_LENGTH:
        problems.append(f"a password has at most {MAX_LENGTH} characters (this one has {len(password)})")
    folded = password.casefold()
    if folded in common_passwords() or folded.strip() in common_passwords():
        problems.append(
            "this password is one of the most common passwords (engine/data/common-passwords.txt)"
        )
    if len(set(folded)) == 1 and password:
        problems.append("a password of one repeated character is guessed at once")
    if username and username.casefold() in folded:
        problems.append("a password may not contain the username")
    return problems


def credential_line(username: str, password: str, cost: ScryptCost | None = None) -> str:
    if not _USERNAME.fullmatch(username):
        raise ValueError("a username is 1-64 letters, digits, '.', '_', '-' or '@'")
    problems = password_problems(password, username)
    if problems:
        raise WeakPassword("; ".join(problems))
    return f"{username}:{hash_password(password, cost=cost)}"


_USERNAME = re.compile(r"[\w.@-]{1,64}")


# -- the credential file -----------------------------------------------------------------------


class Credentials(Mapping[str, Credential]):
    """username -> Credential, with the lines that were refused (``file:line: why``).

    A refused line never grants access; the others still do. A username on two lines is
    refused on both: which one the administrator meant cannot be known, and keeping the
    first would keep an old password working after a new line was appended for it."""

    def __init__(self, path: Path, users: dict[str, Credential], problems: list[str]):
        self.path = path
        self._users = users
        self.problems = problems

    def __getitem__(self, user: str) -> Credential:
        return self._users[user]

    def __iter__(self) -> Iterator[str]:
        return iter(self._users)

    def __len__(self) -> int:
        return len(self._users)


def load_credentials(path: str | os.PathLike | None = None) -> Credentials:
    """The credential file, checked line by line; NoCredentials when none is usable."""
    where = path if path is not None else os.environ.get(ENV)
    if not where:
        raise NoCredentials(f"{ENV} is not set")
    where = Path(where)
    try:
        text = where.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise NoCredentials(f"{ENV}: cannot read {where}: {reason}") from None
    users: dict[str, Credential] = {}
    first_line: dict[str, int] = {}
    refused: set[str] = set()
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where_ = f"{where}:{number}"
        if ":" not in line:
            problems.append(f"{where_}: expected 'username:scrypt$N$r$p$salt$hash'")
            continue
        user, stored = (part.strip() for part in line.split(":", 1))
        if not _USERNAME.fullmatch(user):
            problems.append(
                f"{where_}: {user[:64]!r} is not a username (1-64 letters, digits, '.', '_', '-', '@')"
            )
            continue
        if user in first_line:
            problems.append(
                f"{where_}: user {user!r} appears again (first on line {first_line[user]}); "
                "neither line grants access until one is removed"
            )
            refused.add(user)
            continue
        first_line[user] = number
        try:
            users[user] = parse_credential(stored)
        except ValueError as exc:
            problems.append(f"{where_}: user {user!r}: {exc}")
    for user in refused:
        users.pop(user, None)
    if not users:
        raise NoCredentials(
            f"{ENV}: {where} holds no usable credential line" + "".join(f"\n{p}" for p in problems)
        )
    return Credentials(where, users, problems)


def upgrade_credential(path: Path, username: str, password: str, cost: ScryptCost | None = None) -> bool:
    """Rewrite ``username``'s line with a hash at ``cost`` (after a sign-in with an older,
    cheaper one). The file is replaced atomically, other lines kept byte for byte, under a
    lock on its folder; False when it cannot be written (the old hash keeps working)."""
    cost = cost or COST
    new_line = f"{username}:{hash_password(password, cost=cost)}"
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(dir_fd, fcntl.LOCK_EX)
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        hits = [i for i, line in enumerate(lines) if line.split(":", 1)[0].strip() == username]
        if len(hits) != 1:
            return False
        ending = "\n" if lines[hits[0]].endswith("\n") else ""
        lines[hits[0]] = new_line + ending
        mode = path.stat().st_mode & 0o777
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.writelines(lines)
                handle.flush()
                os.fchmod(handle.fileno(), mode)
                os.fsync(handle.fileno())
            os.replace(tmp, path)
            os.fsync(dir_fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return True
    except OSError:
        return False
    finally:
        os.close(dir_fd)  # closing releases the lock


# -- signing in ---------------------------------------------------------------------------------


_dummies: dict[ScryptCost, Credential] = {}


def _dummy(cost: ScryptCost) -> Credential:
    """A credential nobody's password matches, at ``cost``: an unknown username is checked
    against it so that it costs the same scrypt work as a known one (made once per cost;
    making it on every attempt was why unknown users took twice as long)."""
    if cost not in _dummies:
        _dummies[cost] = parse_credential(hash_password(secrets.token_hex(16), cost=cost))
    return _dummies[cost]


def check_login(
    username: str, password: str, credentials: Mapping[str, Credential], cost: ScryptCost | None = None
) -> bool:
    """True when the user exists and the password matches (the same work either way)."""
    stored = credentials.get(username)
    ok = verify(stored if stored is not None else _dummy(cost or COST), password)
    return ok and stored is not None


@dataclass(frozen=True)
class ThrottlePolicy:
    """Brute-force limits (ASVS 2.2.1: at most 100 failed attempts an hour on one account).

    Per username: from the 5th failure within 15 minutes each further attempt waits
    1, 2, 4, 8, 16 s after the last failure; the 10th locks it for 15 minutes (so at most
    ~40 failures an hour). Per client address, for password spraying across usernames:
    the same from the 10th and 30th failure. Refused attempts are not counted (they would
    let an attacker keep a colleague locked forever) and check no password."""

    window: float = 15 * 60
    user_delay_after: int = 5
    user_lock_after: int = 10
    address_delay_after: int = 10
    address_lock_after: int = 30
    lock_for: float = 15 * 60
    max_keys: int = 10_000  # forget the oldest beyond this: random usernames cannot fill memory


@dataclass
class _Failures:
    times: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0
    # When each attempt whose password is being checked now was let through. Each counts as a
    # failure until it is settled: an attempt made meanwhile (another browser session) meets
    # the delay or the lock that one would set, as if the two had been made one after the other.
    checking: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Claim:
    """One sign-in attempt's place in the throttle. ``wait`` > 0: refused, check no password
    and try again after this many seconds. Otherwise it was let through and counts as a
    failure until :meth:`LoginThrottle.settle` is told how its check ended."""

    username: str
    address: str
    at: float
    wait: float = 0.0


class LoginThrottle:
    """Failed sign-ins per username and per address, for the whole process (every
    Streamlit session of the app shares one; thread-safe).

    :meth:`claim` decides whether an attempt may be checked and counts it in the same step,
    under one lock held for microseconds (never while hashing: one account's attempts do not
    hold up another's); :meth:`settle` records how it ended. So attempts in parallel are
    throttled exactly as if they had been made one after the other."""

    def __init__(self, policy: ThrottlePolicy | None = None, clock: Callable[[], float] = time.monotonic):
        self.policy = policy or ThrottlePolicy()
        self.clock = clock
        self._lock = threading.Lock()
        self._failures: dict[tuple[str, str], _Failures] = {}

    def _limits(self, kind: str) -> tuple[int, int]:
        p = self.policy
        return (
            (p.user_delay_after, p.user_lock_after)
            if kind == "user"
            else (p.address_delay_after, p.address_lock_after)
        )

    def _wait_for(self, key: tuple[str, str], now: float) -> float:
        entry = self._failures.get(key)
        if entry is None:
            return 0.0
        while entry.times and entry.times[0] <= now - self.policy.window:
            entry.times.popleft()
        if entry.locked_until > now:
            return entry.locked_until - now
        delay_after, lock_after = self._limits(key[0])
        count = len(entry.times) + len(entry.checking)
        if count < delay_after:
            return 0.0
        last = max(entry.checking, default=0.0)
        if entry.times:
            last = max(last, entry.times[-1])
        wait = last + 2.0 ** (count - delay_after) - now
        if count >= lock_after:
            # Only attempts still being checked bring the count here (the failure that reaches
            # it locks the key): whichever fails first locks it, so none more may be checked.
            return max(wait, 1.0)
        return max(0.0, wait)

    def _count_failure(self, username: str, address: str, now: float) -> list[str]:
        locked = []
        for key in (("user", username), ("address", address)):
            entry = self._failures.setdefault(key, _Failures())
            self._wait_for(key, now)  # drops failures older than the window
            entry.times.append(now)
            _, lock_after = self._limits(key[0])
            if len(entry.times) >= lock_after and entry.locked_until <= now:
                entry.locked_until = now + self.policy.lock_for
                entry.times.clear()
                locked.append(key[0])
        self._forget_oldest(now)
        return locked

    def _forget_oldest(self, now: float) -> None:
        """Beyond ``max_keys``, drop the keys failed longest ago (never a locked one, nor one
        with an attempt being checked)."""
        if len(self._failures) <= self.policy.max_keys:
            return
        oldest = sorted(self._failures, key=lambda k: max(self._failures[k].times, default=0.0))
        for key in oldest[: len(self._failures) - self.policy.max_keys]:
            entry = self._failures[key]
            if entry.locked_until <= now and not entry.checking:
                del self._failures[key]

    def _forget_if_clean(self, key: tuple[str, str], now: float) -> None:
        entry = self._failures.get(key)
        if entry is not None and not entry.times and not entry.checking and entry.locked_until <= now:
            del self._failures[key]

    def wait(self, username: str, address: str) -> float:
        """Seconds before this username may try again from this address (0: now)."""
        now = self.clock()
        with self._lock:
            return max(self._wait_for(("user", username), now), self._wait_for(("address", address), now))

    def claim(self, username: str, address: str) -> Claim:
        """Refuse this attempt (``wait`` > 0) or let it be checked and count it as a failure
        until it is settled, in one step: no other attempt can pass the gate in between."""
        now = self.clock()
        keys = (("user", username), ("address", address))
        with self._lock:
            wait = max(self._wait_for(key, now) for key in keys)
            if wait > 0:
                return Claim(username, address, now, wait)
            for key in keys:
                self._failures.setdefault(key, _Failures()).checking.append(now)
            self._forget_oldest(now)
        return Claim(username, address, now)

    def settle(self, claim: Claim, ok: bool) -> list[str]:
        """How a claimed attempt ended: a success clears the user's failures (not the
        address's), anything else is counted as a failure. Returns what that locked."""
        now = self.clock()
        keys = (("user", claim.username), ("address", claim.address))
        with self._lock:
            for key in keys:
                entry = self._failures.get(key)
                if entry is not None and claim.at in entry.checking:
                    entry.checking.remove(claim.at)
            if not ok:
                return self._count_failure(claim.username, claim.address, now)
            self._clear(keys[0], now)
            self._forget_if_clean(keys[1], now)
        return []

    def failed(self, username: str, address: str) -> list[str]:
        """Count a failure; returns what it locked (``user``, ``address``), for the log."""
        now = self.clock()
        with self._lock:
            return self._count_failure(username, address, now)

    def succeeded(self, username: str) -> None:
        now = self.clock()
        with self._lock:
            self._clear(("user", username), now)

    def _clear(self, key: tuple[str, str], now: float) -> None:
        entry = self._failures.get(key)
        if entry is not None:
            entry.times.clear()
            entry.locked_until = 0.0
            self._forget_if_clean(key, now)


@dataclass(frozen=True)
class SignIn:
    ok: bool
    user: str | None = None
    fingerprint: str | None = None
    wait: float = 0.0  # > 0: refused without checking, try again after this many seconds


def sign_in(
    username: str,
    password: str,
    address: str,
    credentials: Credentials,
    throttle: LoginThrottle,
    audit: AuditLog,
    cost: ScryptCost | None = None,
) -> SignIn:
    """One sign-in attempt: throttled, checked in constant work, logged; an old hash is
    upgraded to ``cost`` after a success."""
    cost = cost or COST
    who = username[:64]
    claim = throttle.claim(username, address)
    if claim.wait > 0:
        audit.record("auth.throttled", who=who, address=address, detail=f"retry in {claim.wait:.0f} s")
        return SignIn(False, wait=claim.wait)
    ok = False
    try:
        ok = check_login(username, password, credentials, cost)
    finally:
        # Settled however the check ends: an error (out of memory) counts as a failure, and
        # a claim is never left open to hold the username's count up.
        locked = throttle.settle(claim, ok)
        if not ok:
            audit.record("auth.failure", who=who, address=address)
            for what in locked:
                audit.record(
                    "auth.lockout",
                    who=who,
                    address=address,
                    detail=f"{what} locked for {throttle.policy.lock_for:.0f} s",
                )
    if not ok:
        return SignIn(False)
    credential = credentials[username]
    if credential.cost != cost and credential.cost.memory < cost.memory:
        if upgrade_credential(credentials.path, username, password, cost):
            with contextlib.suppress(NoCredentials):
                credential = load_credentials(credentials.path).get(username, credential)
            audit.record("auth.hash_upgraded", who=who, address=address, detail=f"scrypt N={cost.n}")
        else:
            audit.record("auth.hash_upgrade_failed", who=who, address=address, detail=str(credentials.path))
    audit.record("auth.sign_in", who=who, address=address)
    return SignIn(True, user=username, fingerprint=credential.fingerprint)


# -- sessions (ASVS 3.3) ------------------------------------------------------------------------

IDLE_MINUTES = 30.0  # ASVS 3.3.2 (level 2): 30 minutes of inactivity
MAX_HOURS = 12.0  # ... or 12 hours signed in
IDLE_ENV, MAX_ENV = "LIFEEVENTS_STAFF_IDLE_MINUTES", "LIFEEVENTS_STAFF_SESSION_HOURS"


@dataclass
class StaffSession:
    user: str
    fingerprint: str
    signed_in_at: float  # time.time()
    last_seen: float


def session_limits() -> tuple[float, float]:
    """(idle, whole) session limits in seconds, from the environment or the defaults."""

    def read(name: str, default: float) -> float:
        try:
            value = float(os.environ.get(name) or default)
        except ValueError:
            return default
        return value if value > 0 else default

    return read(IDLE_ENV, IDLE_MINUTES) * 60, read(MAX_ENV, MAX_HOURS) * 3600


def session_end(session: StaffSession, credentials: Mapping[str, Credential], now: float) -> str | None:
    """Why this session must end now (``removed``, ``password_changed``, ``idle``,
    ``expired``), or None: it goes on."""
    idle, whole = session_limits()
    credential = credentials.get(session.user)
    if credential is None:
        return "removed"
    if not hmac.compare_digest(credential.fingerprint, session.fingerprint):
        return "password_changed"
    if now - session.last_seen > idle:
        return "idle"
    if now - session.signed_in_at > whole:
        return "expired"
    return None
