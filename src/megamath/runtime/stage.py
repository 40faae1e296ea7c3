"""Stages: the small configured objects a pipeline is made of.

A stage is called over an iterator of records and yields records. A record it removes is yielded as
a :class:`Drop` carrying the reason, so that the executor, not the stage, counts and routes it. Most
stages look at one record at a time and subclass :class:`RecordStage` (transform) or :class:`Filter`
(keep or drop); their base class runs each record under the document guard, so one pathological
record becomes a counted drop instead of a dead or hung worker.

What the base class owns, so that no stage writes it again:

* **configuration**: ``self.config``, a frozen dataclass; it is the stage's part of the run's
  fingerprint.
* **heavy resources** (models, indexes, clients) are declared with :class:`resource`: built on first
  use in the process that uses them, and left out when the stage is pickled to a worker, so a stage
  ships as its configuration and nothing else.
* **files the output depends on** (``dependencies()``): their content fingerprint becomes part of every
  task's identity, so a retrained model or a rebuilt index re-runs the tasks it affects.
* **checks before a run** (``prepare()``): the driver calls it once, so a model that cannot load or an
  option that cannot work is refused up front instead of turning every document into a drop.
* **kept drops** (``keeps_dropped``): records dropped for these reasons (prefixes) are written to the
  run folder's ``excluded/`` for the report; a stage that ``lists_dropped`` has the id, source and
  reason of every record it drops written to ``dropped/`` (drops worth looking up one by one).
"""

from __future__ import annotations

import logging
from functools import cached_property
from itertools import islice
from typing import Any, ClassVar, Iterable, Iterator, NamedTuple

from megamath.runtime.guard import DocumentTimeout, active_guard, out_of_memory

Record = dict[str, Any]
log = logging.getLogger(__name__)


class Drop(NamedTuple):
    """A record a stage removed, and why (a short snake_case reason shown in the funnel)."""

    record: Record
    reason: str


class resource(cached_property):
    """A stage attribute built lazily from its configuration (a model, an index, a connection):
    computed on first access in each process, never pickled."""


def _resource_names(cls: type) -> frozenset[str]:
    names = cls.__dict__.get("_resource_names_cache")
    if names is None:
        names = frozenset(name for klass in cls.__mro__ for name, value in vars(klass).items()
                          if isinstance(value, resource))
        cls._resource_names_cache = names
    return names


class Stage:
    """Base of every stage: ``stage(records) -> records``, with removed records yielded as :class:`Drop`.

    Subclasses set ``name`` (the funnel row) and keep their configuration in a dataclass on
    ``self.config``. A stage may count things of its own in a ``self.counters`` Counter; they are
    reported per task with the funnel.
    """

    name: ClassVar[str] = "stage"
    keeps_dropped: ClassVar[tuple[str, ...]] = ()
    lists_dropped: ClassVar[bool] = False

    def __call__(self, records: Iterable[Record]) -> Iterator[Record | Drop]:
        raise NotImplementedError

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for name in _resource_names(type(self)):
            state.pop(name, None)
        return state

    def dependencies(self) -> tuple[str, ...]:
        """Files (paths or URLs) whose content the output depends on, besides the configuration."""
        return ()

    def begin_input(self, source: str) -> None:
        """Called before the records of each input (a task's ``source``), for a stage whose work
        depends on which input it reads (the dedup filter loads only that shard's decisions)."""

    def prepare(self) -> None:
        """Check, once in the driver before a run, that the configuration can work; raise
        :class:`StageConfigError` with a clear message when it cannot."""

    def describe(self) -> str:
        """One line for logs: what this stage will do with its configuration."""
        return f"{self.name}: {getattr(self, 'config', '')}"


class StageConfigError(ValueError):
    """A stage's configuration cannot work (a model that does not load, an unknown language code)."""


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
            except Exception as exc:  # one bad document must not end the task
                if out_of_memory(exc):
                    raise  # the worker's state is unknown: it ends, and the document is retried like a crash's
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
        while True:
            batch: list[Record] = []
            try:
                batch.extend(islice(records, self.config.batch_size))
            except Exception:
                # the input broke off (a damaged file): what was read before it still goes through
                yield from self.process_batch(batch)
                raise
            if not batch:
                return
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
