"""Password hashing: argon2id, and it never blocks the gevent hub."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import gevent
import gevent.monkey
import pytest
from argon2 import PasswordHasher

from clarity_api.services import hashing

_real_get_ident: Callable[[], int] = gevent.monkey.get_original("_thread", "get_ident")


@pytest.fixture(autouse=True)
def pool() -> Iterator[None]:
    hashing.configure(2)  # what create_app does with the default HASH_THREADS
    yield


def _os_threads() -> int:
    return len(os.listdir(f"/proc/{os.getpid()}/task"))


def test_hash_password_is_argon2id() -> None:
    assert hashing.hash_password("Sup3rSecret!").startswith("$argon2id$")


def test_hash_password_salts_each_hash() -> None:
    assert hashing.hash_password("Sup3rSecret!") != hashing.hash_password("Sup3rSecret!")


def test_hash_password_never_contains_the_password() -> None:
    assert "Sup3rSecret!" not in hashing.hash_password("Sup3rSecret!")


def test_verify_password_accepts_the_right_password() -> None:
    assert hashing.verify_password(hashing.hash_password("Sup3rSecret!"), "Sup3rSecret!") is True


@pytest.mark.parametrize("attempt", ["Sup3rSecret", "sup3rsecret!", "", "Sup3rSecret! "])
def test_verify_password_rejects_other_passwords(attempt: str) -> None:
    assert hashing.verify_password(hashing.hash_password("Sup3rSecret!"), attempt) is False


@pytest.mark.parametrize("stored", [None, "", "not-a-hash", "$argon2id$v=19$broken"])
def test_verify_password_rejects_missing_or_corrupt_hash(stored: str | None) -> None:
    assert hashing.verify_password(stored, "Sup3rSecret!") is False


class RecordingHasher:
    """argon2's hasher, noting the OS thread each hash and verify runs on."""

    def __init__(self, hasher: PasswordHasher):
        self.hasher = hasher
        self.threads: list[int] = []

    def hash(self, password: str) -> str:
        self.threads.append(_real_get_ident())
        return self.hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        self.threads.append(_real_get_ident())
        return self.hasher.verify(password_hash, password)


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch) -> RecordingHasher:
    recorder = RecordingHasher(hashing._hasher)
    monkeypatch.setattr(hashing, "_hasher", recorder)
    monkeypatch.setattr(hashing, "_dummy_hash", None)  # the first unknown email makes it
    return recorder


def test_hash_password_runs_off_the_hub_thread(recording: RecordingHasher) -> None:
    hashing.hash_password("Sup3rSecret!")
    assert recording.threads
    assert gevent.get_hub().thread_ident not in recording.threads


@pytest.mark.parametrize("known_email", [True, False], ids=["wrong-password", "unknown-email"])
def test_verify_password_runs_off_the_hub_thread(
    recording: RecordingHasher, known_email: bool
) -> None:
    stored = hashing.hash_password("Sup3rSecret!") if known_email else None
    recording.threads.clear()
    assert hashing.verify_password(stored, "Wr0ngPassword") is False
    assert recording.threads
    assert gevent.get_hub().thread_ident not in recording.threads


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc")
def test_configure_again_does_not_start_more_threads() -> None:
    hashing.hash_password("Sup3rSecret!")
    before = _os_threads()
    for _ in range(5):
        hashing.configure(2)
        hashing.hash_password("Sup3rSecret!")
    assert _os_threads() <= before


def test_configure_changes_the_pool_size() -> None:
    hashing.configure(3)
    assert hashing._pool is not None and hashing._pool.maxsize == 3
