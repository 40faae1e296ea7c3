"""Stages: the small configured objects a pipeline is made of.

A stage is called over an iterator of records and yields records. A record it removes is yielded as
a :class:`Drop` carrying the reason, so that the executor, not the stage, counts and routes it. Most
stages look at one record at a time and subclass :class:`RecordStage` (transform) or :class:`Filter`
(keep or drop); their base class runs each record under the document guard, so one pathological
record becomes a counted drop instead of a dead or hung worker.
"""

from __future__ import annotations

import logging
from itertools import islice
from typing import Any, ClassVar, Iterable, Iterator, NamedTuple

from megamath.runtime.guard import DocumentTimeout, active_guard

Record = dict[str, Any]
log = logging.getLogger(__name__)


class Drop(NamedTuple):
    """A record a stage removed, and why (a short snake_case reason shown in the funnel)."""

    record: Record
    reason: str


class Stage:
    """Base of every stage: ``stage(records) -> records``, with removed records yielded as :class:`Drop`.

    Subclasses set ``name`` (the funnel row) and keep their configuration in a dataclass on
    ``self.config``. A stage may count things of its own in a ``self.counters`` Counter; they are reported per
    task with the funnel. Heavy resources (models, block lists) are loaded lazily so that a stage pickles
    cheaply to worker processes.
    """

    name: ClassVar[str] = "stage"

    def __call__(self, records: Iterable[Record]) -> Iterator[Record | Drop]:
        raise NotImplementedError

    def describe(self) -> str:
        """One line for logs: what this stage will do with its configuration."""
        return f"{self.name}: {getattr(self, 'config', '')}"


class RecordStage(Stage):
    """A stage that maps one record to one record (or a :class:`Drop`)."""

    def process(self, record: Record) -> Record | Drop:
        raise NotImplementedError

    def __call__(self, records: Iterable[Record]) -> Iterator[Record | Drop]:
        guard = active_guard()
        for record in records:
            try:
                with guard.watch(record, self.name):
                    result = self.process(record)
            except DocumentTimeout:
                log.warning("%s: document %s exceeded the time limit; skipped", self.name, record.get("source"))
                result = Drop(record, "timeout")
            except MemoryError:
                log.warning("%s: out of memory on document %s; skipped", self.name, record.get("source"))
                result = Drop(record, "out_of_memory")
            except Exception as exc:  # one bad document must not end the task
                log.warning("%s: %s on document %s: %s", self.name, type(exc).__name__, record.get("source"), exc)
                result = Drop(record, f"error_{type(exc).__name__}")
            yield result


class BatchStage(Stage):
    """A stage that handles records a batch at a time (a vectorized model scores many at once):
    subclasses write ``process_batch(records)`` and keep ``batch_size`` in their config."""

    def process_batch(self, batch: list[Record]) -> Iterable[Record | Drop]:
        raise NotImplementedError

    def __call__(self, records: Iterable[Record]) -> Iterator[Record | Drop]:
        records = iter(records)
        while batch := list(islice(records, self.config.batch_size)):
            yield from self.process_batch(batch)


class Filter(RecordStage):
    """Keep or drop: subclasses write ``filter(record) -> bool | (bool, reason)``.

    A bare ``False`` is counted under the stage's name.
    """

    def filter(self, record: Record) -> bool | tuple[bool, str]:
        raise NotImplementedError

    def process(self, record: Record) -> Record | Drop:
        verdict = self.filter(record)
        if isinstance(verdict, tuple):
            keep, reason = verdict
        else:
            keep, reason = verdict, self.name
        return record if keep else Drop(record, reason)
