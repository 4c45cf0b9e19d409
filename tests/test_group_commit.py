"""Group commit: concurrent submitters share writes, each gets its own result or error."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from sync.group_commit import GroupCommit


class SlowWriter:
    """Records each batch; holds the first write until released so others pile up."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.first_started = threading.Event()
        self.release = threading.Event()

    def __call__(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        if len(self.batches) == 1:
            self.first_started.set()
            self.release.wait(10)
        if any(item < 0 for item in items):
            raise ValueError("negative")
        return [item * 10 for item in items]


def wait_until_waiting(commit: GroupCommit, count: int) -> None:
    """Block until ``count`` submitters are queued behind the running write."""
    for _ in range(500):
        if len(commit._waiting) == count:
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"{len(commit._waiting)} waiting, expected {count}")


def test_a_lone_caller_writes_its_own_item_inline() -> None:
    writes: list[tuple[list[int], str]] = []

    def write(items: Sequence[int]) -> list[int]:
        writes.append((list(items), threading.current_thread().name))
        return [item + 1 for item in items]

    commit = GroupCommit(write)
    assert commit.submit(1) == 2
    assert commit.submit(5) == 6
    assert writes == [([1], threading.current_thread().name), ([5], writes[1][1])]


@pytest.mark.parametrize(("max_batch", "crowd"), [(100, 10), (3, 8)])
def test_callers_that_arrive_during_a_write_share_the_next_ones(max_batch, crowd) -> None:
    writer = SlowWriter()
    commit = GroupCommit(writer, max_batch=max_batch)
    with ThreadPoolExecutor(max_workers=crowd + 2) as pool:
        first = pool.submit(commit.submit, 0)
        assert writer.first_started.wait(5)
        others = [pool.submit(commit.submit, n) for n in range(1, crowd + 1)]
        wait_until_waiting(commit, crowd)  # they pile up behind the running write
        writer.release.set()
        assert first.result(5) == 0
        assert [future.result(5) for future in others] == [n * 10 for n in range(1, crowd + 1)]
    assert writer.batches[0] == [0]
    later = writer.batches[1:]
    assert all(len(batch) <= max_batch for batch in later)
    assert sorted(item for batch in later for item in batch) == list(range(1, crowd + 1))
    assert len(later) == -(-crowd // max_batch), "as few writes as the limit allows"


def test_an_error_reaches_every_caller_of_its_batch_and_no_other() -> None:
    writer = SlowWriter()
    commit = GroupCommit(writer)
    writer.release.set()
    with pytest.raises(ValueError, match="negative"):
        commit.submit(-1)
    assert commit.submit(2) == 20  # the next write is not affected


def test_a_write_returning_the_wrong_count_fails_loudly() -> None:
    commit = GroupCommit(lambda items: [])
    with pytest.raises(RuntimeError, match="wrong number of results"):
        commit.submit(1)
