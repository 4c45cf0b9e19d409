"""Group commit: concurrent callers in one process share one write.

The first caller to arrive while no write is running becomes the leader: it takes every
item waiting (its own included), writes them in one go and hands each caller its own
result. Callers that arrive meanwhile wait; when the write ends, one of them leads the
next batch. With one thread per process every batch is just the caller's own item, so
nothing waits and no thread is started; with many threads, many webhooks share one
transaction and one Redis round trip instead of paying for their own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(eq=False)
class _Waiting(Generic[Item, Result]):
    item: Item
    done: bool = False
    result: Result | None = None
    error: BaseException | None = field(default=None, repr=False)


class GroupCommit(Generic[Item, Result]):
    """Batch ``submit`` calls from concurrent threads into calls of ``write``.

    ``write(items)`` returns one result per item, in order; if it raises, every caller
    of that batch gets the exception.
    """

    def __init__(
        self, write: Callable[[Sequence[Item]], Sequence[Result]], max_batch: int = 100
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._waiting: list[_Waiting[Item, Result]] = []
        self._writing = False
        self._changed = threading.Condition()

    def submit(self, item: Item) -> Result:
        """Write ``item`` (with whatever else is waiting) and return its result."""
        mine: _Waiting[Item, Result] = _Waiting(item)
        with self._changed:
            self._waiting.append(mine)
        while True:
            with self._changed:
                while self._writing and not mine.done:
                    self._changed.wait()
                if mine.done:
                    break
                self._writing = True
                batch = self._waiting[: self._max_batch]
                del self._waiting[: self._max_batch]
            self._lead(batch)  # ours may be left for the next round when many wait
        if mine.error is not None:
            raise mine.error
        return mine.result  # type: ignore[return-value]

    def _lead(self, batch: list[_Waiting[Item, Result]]) -> None:
        try:
            results = self._write([waiting.item for waiting in batch])
            if len(results) != len(batch):
                raise RuntimeError("group commit: write returned the wrong number of results")
            for waiting, result in zip(batch, results, strict=True):
                waiting.result = result
        except BaseException as error:  # every caller of the batch must hear of it
            for waiting in batch:
                waiting.error = error
        finally:
            with self._changed:
                for waiting in batch:
                    waiting.done = True
                self._writing = False
                self._changed.notify_all()
