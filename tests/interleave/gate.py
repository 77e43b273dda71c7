"""A storage wrapper that can freeze one operation at its k-th storage call.

:class:`GatedStorage` is a :class:`azof.storage.Storage` that forwards every call to the
real storage it wraps, but first reports the call to a :class:`Gate`: the gate records it
(kind, path relative to the lakehouse root) and, once the operation's call count reaches the
gate's pause point, blocks the calling thread until the gate is moved on. Everything an
operation does to storage goes through its own wrapper (Parquet reads too: the wrapper's
pyarrow filesystem calls back into it), so the calls recorded are exactly the operation's,
whatever threads it uses, and a paused operation touches storage no more until resumed.

:class:`Runner` drives operations in threads: :meth:`Runner.start` runs one until it is
paused (or done), :meth:`Runner.resume` lets it go on to its next pause point or the end.
"""

from __future__ import annotations

import builtins
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs

from azof.storage import Storage
from azof.storage.arrowfs import ReadCounter, StorageHandler, input_file
from azof.storage.store import ObjectInfo

__all__ = ["Gate", "GatedStorage", "Runner", "Stalled", "wide_arrow_pools"]

STALL_SECONDS = 60.0
"""How long an operation may take to reach its pause point before the harness gives up."""


ARROW_THREADS = 32


@contextlib.contextmanager
def wide_arrow_pools() -> Iterator[None]:
    """Give pyarrow's CPU and I/O pools more threads than a paused operation can hold.

    A paused operation may block pyarrow pool threads inside Parquet reads (the Python
    filesystem calls back into the wrapper); with pools as small as the machine's cores,
    the operation run meanwhile would wait for a thread forever."""
    cpu, io = pa.cpu_count(), pa.io_thread_count()
    pa.set_cpu_count(max(cpu, ARROW_THREADS))
    pa.set_io_thread_count(max(io, ARROW_THREADS))
    try:
        yield
    finally:
        pa.set_cpu_count(cpu)
        pa.set_io_thread_count(io)


class Stalled(AssertionError):
    """An operation neither paused nor finished in time (a deadlock in the harness)."""


class Gate:
    """The record of one operation's storage calls and where it is to pause."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: list[tuple[str, str]] = []
        self.times: list[float] = []
        """When each call was made (wall clock, before it reached storage)."""
        self.pause_at: int | None = None
        self.blocked: set[int] = set()
        self.finished = False
        self.on_create: Callable[[str, str], None] | None = None
        self._cond = threading.Condition()

    def arrive(self, kind: str, path: str) -> None:
        """Record a call; block while the operation is paused at or before it."""
        with self._cond:
            index = len(self.calls)
            self.calls.append((kind, path))
            self.times.append(time.time())
            while self.pause_at is not None and index >= self.pause_at:
                self.blocked.add(index)
                self._cond.notify_all()
                self._cond.wait()
            self.blocked.discard(index)
            self.times[index] = time.time()  # the call goes to storage now

    def created(self, path: str) -> None:
        """A create-if-absent of ``path`` succeeded (called before the caller sees it)."""
        if self.on_create is not None:
            self.on_create(self.name, path)

    def finish(self) -> None:
        with self._cond:
            self.finished = True
            self._cond.notify_all()

    def move_on(self, pause_at: int | None) -> None:
        """Let blocked calls go up to the new pause point (``None``: to the end)."""
        with self._cond:
            self.pause_at = pause_at
            self._cond.notify_all()

    def wait_stopped(self, timeout: float = STALL_SECONDS) -> bool:
        """Wait until the operation is paused or finished; ``True`` when paused."""
        with self._cond:
            if not self._cond.wait_for(lambda: self.finished or self._held(), timeout):
                raise Stalled(f"operation {self.name} neither paused nor finished")
            return not self.finished

    def _held(self) -> bool:
        pause_at = self.pause_at
        return pause_at is not None and any(index >= pause_at for index in self.blocked)

    @property
    def paused(self) -> bool:
        with self._cond:
            return self._held() and not self.finished


def _join(prefix: str, path: str) -> str:
    path = path.strip("/")
    if not prefix:
        return path
    return f"{prefix}/{path}" if path else prefix


class GatedStorage(Storage):
    """A Storage forwarding every call to ``inner`` after reporting it to ``gate``."""

    def __init__(self, inner: Storage, gate: Gate, where: str = "") -> None:
        super().__init__(None, inner.uri)
        self.inner = inner
        self.gate = gate
        self.where = where

    @property
    def is_local(self) -> bool:
        return False  # reads go through this wrapper, never around it

    def _arrive(self, kind: str, path: str) -> None:
        self.gate.arrive(kind, _join(self.where, path))

    def child(self, prefix: str) -> Storage:
        return GatedStorage(self.inner.child(prefix), self.gate, _join(self.where, prefix))

    def read(self, path: str) -> bytes:
        self._arrive("read", path)
        return self.inner.read(path)

    def read_range(self, path: str, start: int, end: int) -> bytes:
        self._arrive("read_range", path)
        return self.inner.read_range(path, start, end)

    def exists(self, path: str) -> bool:
        self._arrive("exists", path)
        return self.inner.exists(path)

    def info(self, path: str) -> ObjectInfo:
        self._arrive("info", path)
        return self.inner.info(path)

    def arrow_filesystem(self, counter: ReadCounter | None = None) -> pafs.FileSystem:
        return pafs.PyFileSystem(StorageHandler(self, counter))

    def open_input(self, path: str) -> pa.NativeFile:
        return input_file(self, path)

    def list(self, prefix: str = "", *, recursive: bool = True) -> builtins.list[ObjectInfo]:
        self._arrive("list", prefix)
        return self.inner.list(prefix, recursive=recursive)

    def list_dirs(self, prefix: str = "") -> builtins.list[str]:
        self._arrive("list_dirs", prefix)
        return self.inner.list_dirs(prefix)

    def write(self, path: str, data: bytes) -> None:
        self._arrive("write", path)
        self.inner.write(path, data)

    def write_if_absent(self, path: str, data: bytes) -> bool:
        self._arrive("create", path)
        created = self.inner.write_if_absent(path, data)
        if created:
            self.gate.created(_join(self.where, path))
        return created

    def delete(self, path: str) -> None:
        self._arrive("delete", path)
        self.inner.delete(path)


@dataclass
class Outcome:
    """How one operation ended: its return value or its error."""

    value: Any = None
    error: BaseException | None = None
    done: bool = False


@dataclass
class _Running:
    gate: Gate
    thread: threading.Thread
    outcome: Outcome = field(default_factory=Outcome)


class Runner:
    """Runs operations in threads, each paused and resumed at chosen storage calls."""

    def __init__(self) -> None:
        self._running: dict[str, _Running] = {}

    def start(self, gate: Gate, work: Callable[[], Any], pause_at: int | None) -> bool:
        """Run ``work`` (whose storage goes through ``gate``) until its call ``pause_at``
        (``None``: to the end); ``True`` when it is paused there."""
        if gate.name in self._running:
            raise ValueError(f"operation {gate.name} is already running")
        gate.move_on(pause_at)
        running = _Running(gate, threading.Thread(target=lambda: None))

        def body() -> None:
            try:
                running.outcome.value = work()
            except BaseException as exc:  # handed to the test, which judges it
                running.outcome.error = exc
            finally:
                running.outcome.done = True
                gate.finish()

        running.thread = threading.Thread(target=body, name=f"op-{gate.name}", daemon=True)
        self._running[gate.name] = running
        running.thread.start()
        return self._settle(running)

    def resume(self, name: str, pause_at: int | None = None) -> bool:
        """Let a paused operation go on to call ``pause_at`` (``None``: to the end)."""
        running = self._running[name]
        running.gate.move_on(pause_at)
        return self._settle(running)

    def _settle(self, running: _Running) -> bool:
        paused = running.gate.wait_stopped()
        if not paused:
            running.thread.join(STALL_SECONDS)
        return paused

    def outcome(self, name: str) -> Outcome:
        return self._running[name].outcome

    def paused(self) -> builtins.list[str]:
        return [name for name, r in self._running.items() if r.gate.paused]

    def release_all(self) -> None:
        """Let every paused operation finish (after a failure, so no thread stays blocked)."""
        for running in self._running.values():
            running.gate.move_on(None)
        for running in self._running.values():
            running.thread.join(STALL_SECONDS)
