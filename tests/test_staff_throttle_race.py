"""The sign-in throttle under parallel attempts (docs/staff.md, "Sign-in and sessions").

Streamlit runs every browser session's script in its own thread, and the app has one
throttle for them all. Attempts made at the same moment must be throttled exactly as if
they had been made one after the other: the delay after 5 failures and the lock after 10
hold, however many arrive while a password is being checked (scrypt takes ~0.4 s).

scrypt is made slow here on purpose (a cheap cost, then a sleep), so that every attempt
reaches the throttle while the first ones are still being checked: the race is then not a
matter of luck. The clock is a test clock that does not move while they run."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

import pytest
from test_staff_hardening import LOW, PASSWORD, Clock, credential_file

from engine.services import staffauth
from engine.services.audit import AuditLog
from engine.services.staffauth import (
    Credentials,
    LoginThrottle,
    SignIn,
    credential_line,
    load_credentials,
    sign_in,
)

CHECK_SECONDS = 0.4  # what one production check costs


class SlowScrypt:
    """hashlib.scrypt at a cheap cost plus a sleep: which passwords were checked, and an
    event set as soon as the first check starts."""

    def __init__(self, seconds: float = CHECK_SECONDS, fail: type[BaseException] | None = None) -> None:
        self.seconds = seconds
        self.fail = fail
        self.checked: list[str] = []
        self.started = threading.Event()
        self._real = hashlib.scrypt
        self._lock = threading.Lock()

    def __call__(self, password: bytes, *, salt, n, r, p, maxmem=0, dklen=64) -> bytes:
        with self._lock:
            self.checked.append(password.decode())
        self.started.set()
        if self.fail is not None:
            raise self.fail()
        time.sleep(self.seconds)
        return self._real(password, salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=dklen)


@pytest.fixture
def creds(tmp_path, monkeypatch) -> Credentials:
    monkeypatch.setattr(staffauth, "COST", LOW)
    lines = [credential_line(user, PASSWORD) for user in ("policy.lin", "policy.chen")]
    return load_credentials(credential_file(tmp_path / "c", *lines))


@pytest.fixture
def slow(monkeypatch, creds) -> SlowScrypt:
    staffauth.check_login("nobody", "x", creds)  # the unknown users' dummy hash, made beforehand
    spy = SlowScrypt()
    monkeypatch.setattr(hashlib, "scrypt", spy)
    return spy


def in_parallel(attempts: list[Callable[[], SignIn]]) -> list[SignIn]:
    """Every attempt in its own thread, all released at once."""
    results: list[SignIn | None] = [None] * len(attempts)
    barrier = threading.Barrier(len(attempts))

    def run(i: int) -> None:
        barrier.wait()
        results[i] = attempts[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(attempts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(result is not None for result in results)
    return [result for result in results if result is not None]


def outcome(results: list[SignIn]) -> list[tuple[bool, float]]:
    return sorted((result.ok, result.wait) for result in results)


def events(audit: AuditLog) -> list[str]:
    return [entry["event"] for entry in audit.entries()]


def test_sixteen_guesses_at_once_check_five_passwords_as_sixteen_in_a_row_would(tmp_path, creds, slow):
    def guesses(throttle: LoginThrottle, audit: AuditLog) -> list[Callable[[], SignIn]]:
        return [
            lambda i=i: sign_in("policy.lin", f"wrong guess {i}", "203.0.113.9", creds, throttle, audit)
            for i in range(16)
        ]

    slow.seconds = 0.0  # one after the other, no race to widen
    in_a_row, audit = LoginThrottle(clock=Clock()), AuditLog(tmp_path / "in-a-row.jsonl")
    expected = outcome([attempt() for attempt in guesses(in_a_row, audit)])
    assert expected == [(False, 0.0)] * 5 + [(False, 1.0)] * 11  # 5 checked, then wait 1 s
    slow.checked.clear()
    slow.seconds = CHECK_SECONDS

    throttle, audit = LoginThrottle(clock=Clock()), AuditLog(tmp_path / "at-once.jsonl")
    assert outcome(in_parallel(guesses(throttle, audit))) == expected
    assert len(slow.checked) == 5
    assert sorted(events(audit)) == ["auth.failure"] * 5 + ["auth.throttled"] * 11
    refused = sign_in("policy.lin", PASSWORD, "203.0.113.9", creds, throttle, audit)
    assert not refused.ok and refused.wait == 1  # the right password waits too, unchecked
    assert len(slow.checked) == 5


def test_the_right_password_sent_while_the_tenth_failure_is_being_checked_is_refused_and_then_locked_out(
    tmp_path, creds, slow
):
    clock = Clock()
    throttle, audit = LoginThrottle(clock=clock), AuditLog(tmp_path / "audit.jsonl")
    for _ in range(9):  # nine failures, each past the delay the one before set
        clock.now += 60
        throttle.failed("policy.lin", "elsewhere")
    clock.now += 60  # past the 16 s the 9th set: one more attempt may be checked
    results: list[SignIn] = []
    guesses = threading.Thread(
        target=lambda: results.extend(
            in_parallel(
                [
                    lambda i=i: sign_in(
                        "policy.lin", f"wrong guess {i}", "203.0.113.9", creds, throttle, audit
                    )
                    for i in range(15)
                ]
            )
        )
    )
    guesses.start()
    assert slow.started.wait(timeout=30)  # the 10th guess is being checked now
    right = sign_in("policy.lin", PASSWORD, "198.51.100.4", creds, throttle, audit)
    guesses.join(timeout=60)

    assert not right.ok and right.wait > 0
    assert PASSWORD not in slow.checked and len(slow.checked) == 1
    assert sum(result.wait == 0 for result in results) == 1  # one guess checked, the others refused
    assert events(audit).count("auth.lockout") == 1
    assert "auth.sign_in" not in events(audit)
    locked = sign_in("policy.lin", PASSWORD, "198.51.100.4", creds, throttle, audit)
    assert not locked.ok and locked.wait == 15 * 60  # the right password, refused too
    assert len(slow.checked) == 1


def test_forty_usernames_at_once_from_one_address_check_ten_passwords(tmp_path, creds, slow):
    def spray(throttle: LoginThrottle, audit: AuditLog) -> list[Callable[[], SignIn]]:
        return [
            lambda i=i: sign_in(f"user{i}", "a common password", "203.0.113.7", creds, throttle, audit)
            for i in range(40)
        ]

    slow.seconds = 0.0
    in_a_row = LoginThrottle(clock=Clock())
    expected = outcome([attempt() for attempt in spray(in_a_row, AuditLog(tmp_path / "a"))])
    assert expected == [(False, 0.0)] * 10 + [(False, 1.0)] * 30  # the address's delay from 10
    slow.checked.clear()
    slow.seconds = CHECK_SECONDS

    throttle = LoginThrottle(clock=Clock())
    assert outcome(in_parallel(spray(throttle, AuditLog(tmp_path / "b")))) == expected
    assert len(slow.checked) == 10
    assert throttle.wait("policy.lin", "203.0.113.7") == 1
    assert throttle.wait("policy.lin", "198.51.100.4") == 0


def test_guesses_being_checked_on_one_account_do_not_hold_up_another(tmp_path, creds, slow):
    slow.seconds = 2.0
    throttle, audit = LoginThrottle(clock=Clock()), AuditLog(tmp_path / "audit.jsonl")
    guesses = [
        threading.Thread(
            target=sign_in, args=("policy.lin", f"guess {i}", "203.0.113.9", creds, throttle, audit)
        )
        for i in range(5)
    ]
    for thread in guesses:
        thread.start()
    assert slow.started.wait(timeout=30)
    slow.seconds = 0.0
    started = time.monotonic()
    assert sign_in("policy.chen", PASSWORD, "198.51.100.4", creds, throttle, audit).ok
    assert time.monotonic() - started < 1.0  # not behind policy.lin's 2 s checks
    for thread in guesses:
        thread.join(timeout=60)


def test_a_check_that_fails_with_an_error_counts_as_a_failure(tmp_path, creds, monkeypatch):
    monkeypatch.setattr(hashlib, "scrypt", SlowScrypt(fail=MemoryError))
    throttle, audit = LoginThrottle(clock=Clock()), AuditLog(tmp_path / "audit.jsonl")
    for _ in range(5):
        with pytest.raises(MemoryError):
            sign_in("policy.lin", PASSWORD, "203.0.113.9", creds, throttle, audit)
    assert throttle.wait("policy.lin", "198.51.100.4") == 1  # five failures: a delay, as after five guesses
    assert events(audit) == ["auth.failure"] * 5


# the throttle itself: claim, then settle


def test_an_attempt_being_checked_counts_as_a_failure_until_it_is_settled():
    throttle = LoginThrottle(clock=Clock())
    claims = [throttle.claim("policy.lin", "203.0.113.9") for _ in range(5)]
    assert [claim.wait for claim in claims] == [0] * 5  # four before it: no delay yet
    assert throttle.claim("policy.lin", "198.51.100.4").wait == 1  # as after five failures
    for claim in claims:
        assert throttle.settle(claim, ok=False) == []
    assert throttle.wait("policy.lin", "198.51.100.4") == 1  # settled: the same five failures


def test_a_settled_success_clears_the_users_failures_and_adds_none_to_the_address():
    throttle = LoginThrottle(clock=Clock())
    for i in range(9):
        throttle.failed(f"user{i}", "203.0.113.7")
    for _ in range(4):
        throttle.failed("policy.lin", "198.51.100.4")
    claim = throttle.claim("policy.lin", "203.0.113.7")  # the address's 10th, if it failed
    assert claim.wait == 0
    assert throttle.settle(claim, ok=True) == []
    assert throttle.wait("someone.else", "203.0.113.7") == 0  # still nine at the address
    assert throttle.claim("policy.lin", "198.51.100.4").wait == 0  # the user's four are gone
