"""One interleaving scenario: a fresh copy of the starting table, operations started,
paused and resumed in a given order, and the invariants checked after every step.

The invariants (each violation is reported with its letter):

(a) every acknowledged operation's effect is in the latest state, as a naive oracle replaying
    the acknowledged operations in commit-version order says (restore, delete and later
    puts remove earlier effects by design);
(b) the latest version never goes backwards, for a reader refreshed after each step and
    for a table opened afresh after each step, and is at least every acknowledged version;
(c) every retained version answers as it did when it was committed, and as the oracle says;
(d) no delete outside the table folder, no delete of a data file another operation wrote
    during the scenario (all younger than the grace period), no file of a retained version
    missing;
(e) a failed operation leaves nothing visible: every version is acknowledged by one
    operation (or is a vacuum's own state-preserving commit) and nothing a failed operation
    marks (keys, columns, policy) shows in any retained version;
(f) operations fail only in the ways allowed: ``CommitConflictError``; a restore whose target
    was vacuumed (``VersionNotFoundError``); an append whose column a concurrent evolve
    renamed (``SchemaMismatchError``).
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from azof import Lakehouse
from azof.errors import (
    AzofError,
    CommitConflictError,
    SchemaMismatchError,
    VersionNotFoundError,
)
from azof.format import Snapshot
from azof.storage import Storage
from azof.table import Table
from interleave.gate import Gate, GatedStorage, Runner
from interleave.model import (
    AS_OF,
    NAME,
    RESTORE_TARGET,
    SETUP_STATES,
    Ack,
    Answer,
    Op,
    State,
    answer_of,
    as_datetime,
    expected_answer,
)

__all__ = ["Lake", "Scenario", "Step", "copy_lake"]

_SNAPSHOT = re.compile(rf"^{NAME}/s(\d+)\.json$")
_ANSWERS: dict[bytes, tuple[Answer, int]] = {}
_ANSWERS_LOCK = threading.Lock()


@dataclass(frozen=True)
class Step:
    """``start`` an operation (index into the scenario's ops) or ``resume`` a paused one,
    until its storage call ``pause_at`` (``None``: to the end)."""

    action: str
    op: int
    pause_at: int | None = None

    def describe(self, ops: Sequence[Op]) -> str:
        until = "end" if self.pause_at is None else f"call {self.pause_at}"
        return f"{self.action} {ops[self.op].name} to {until}"


@dataclass(frozen=True)
class Lake:
    """Where scenarios run: a way to open a lakehouse holding a copy of the starting table
    (made more than ``margin`` seconds ago), the margin by which a vacuum's grace period
    reaches back before the scenario's start (so the copied files are old and everything
    the scenario writes is young), and how much earlier than the wall clock the store's
    modification times may be (``slack``: whole seconds on some S3 servers)."""

    open_fresh: Callable[[], tuple[Lakehouse, Storage]]
    margin: float = 0.25
    slack: float = 0.0


def copy_lake(source: Storage, target: Storage) -> None:
    """Copy every object of ``source`` to ``target`` (both lakehouse roots)."""
    for obj in source.list(""):
        target.write(obj.path, source.read(obj.path))


@dataclass
class _Seen:
    reader_version: int = -1
    latest: int = -1


@dataclass
class Scenario:
    """Runs ``steps`` over ``ops`` on a fresh copy of the starting table in ``lake``."""

    lake: Lakehouse
    root: Storage
    ops: Sequence[Op]
    margin: float
    slack: float = 0.0
    violations: list[str] = field(default_factory=list)
    acks: dict[int, Ack] = field(default_factory=dict)
    errors: dict[int, BaseException] = field(default_factory=dict)
    created: dict[int, tuple[str, Answer, int]] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.raw = self.root.child(NAME)
        self.gates = [Gate(op.name) for op in self.ops]
        for gate in self.gates:
            gate.on_create = self._created
        self.runner = Runner()
        self.seen = _Seen()
        self.reader = Table(self.lake, NAME, self.raw)
        self.start = time.time()
        self.graces: dict[str, float] = {}
        self._lock = threading.Lock()
        self._answers: dict[bytes, tuple[Answer, int]] = {}

    # -- running -----------------------------------------------------------------------------

    def _work(self, index: int) -> Callable[[], Ack]:
        op, gate = self.ops[index], self.gates[index]

        def grace() -> timedelta:
            seconds = time.time() - self.start + self.margin
            self.graces[op.name] = seconds
            return timedelta(seconds=seconds)

        def work() -> Ack:
            storage = GatedStorage(self.root, gate)
            table = Table(self.lake, NAME, storage.child(NAME))  # as a process opens it
            return op.run(table, grace)

        return work

    def run(self, steps: Sequence[Step]) -> list[str]:
        """Run the steps, then resume whatever is still paused; the violations found."""
        try:
            self.check_step("start")
            for step in steps:
                self._do(step)
            for index, gate in enumerate(self.gates):
                if gate.paused:
                    self._do(Step("resume", index))
            self.check_end()
        finally:
            self.runner.release_all()
        return self.violations

    def _do(self, step: Step) -> None:
        if step.action == "resume" and not self.gates[step.op].paused:
            return  # it ran to the end already
        self.log.append(step.describe(self.ops))
        if step.action == "start":
            self.runner.start(self.gates[step.op], self._work(step.op), step.pause_at)
        else:
            self.runner.resume(self.ops[step.op].name, step.pause_at)
        outcome = self.runner.outcome(self.ops[step.op].name)
        if outcome.done:
            if outcome.error is not None:
                self.errors[step.op] = outcome.error
            else:
                self.acks[step.op] = outcome.value
        self.check_step(step.describe(self.ops))

    def _created(self, op: str, path: str) -> None:
        """A create-if-absent landed: remember the version's answer as committed."""
        match = _SNAPSHOT.match(path)
        if match is None:
            return
        version = int(match[1])
        try:
            answer, max_deltas = self.answer(version)
        except AzofError as exc:
            self.violate("c", f"version {version} by {op} cannot be read as committed: {exc!r}")
            return
        with self._lock:
            if version in self.created:
                first = self.created[version][0]
                self.violate("c", f"snapshot number {version} created twice: by {first}, {op}")
            self.created[version] = (op, answer, max_deltas)

    def violate(self, invariant: str, text: str) -> None:
        where = "; ".join(self.log) or "set-up"
        self.violations.append(f"({invariant}) {text} [after: {where}]")

    # -- reading -----------------------------------------------------------------------------

    def answer(self, version: int) -> tuple[Answer, int]:
        """Version ``version``'s current answer (and policy marker), read with plain storage.

        Answers are remembered by the snapshot's bytes: data files are immutable (named
        by uuid), so the same bytes answer the same while their files exist, which
        :meth:`_check_files` checks."""
        data = self.raw.read(f"s{version}.json")
        cache_key = hashlib.sha256(data).digest()
        with _ANSWERS_LOCK:
            cached = _ANSWERS.get(cache_key) or self._answers.get(cache_key)
        if cached is not None:
            return cached
        table = Table(self.lake, NAME, self.raw, version=version)
        result = answer_of(table.scan()), table.policy.max_deltas
        with _ANSWERS_LOCK:  # only the starting versions recur across scenarios
            cache = _ANSWERS if version <= max(SETUP_STATES) else self._answers
            cache[cache_key] = result
        return result

    def check_step(self, where: str) -> None:
        """(b): readers never go backwards, and see every acknowledged version."""
        try:
            self.reader.refresh()
            fresh = Table(self.lake, NAME, self.raw).version
        except AzofError as exc:
            self.violate("b", f"a reader cannot read the table: {exc!r}")
            return
        if self.reader.version < self.seen.reader_version:
            self.violate(
                "b",
                f"a refreshed reader went back from version {self.seen.reader_version} "
                f"to {self.reader.version}",
            )
        if fresh < self.seen.latest:
            self.violate("b", f"a new reader sees version {fresh}, earlier than {self.seen.latest}")
        acked = [a.version for a in self.acks.values() if a.version is not None]
        if acked and fresh < max(acked):
            self.violate("b", f"version {max(acked)} was acknowledged but the latest is {fresh}")
        self.seen.reader_version = max(self.seen.reader_version, self.reader.version)
        self.seen.latest = max(self.seen.latest, fresh)

    # -- the end -----------------------------------------------------------------------------

    def _allowed(self, op: Op, error: BaseException) -> bool:
        if isinstance(error, CommitConflictError):
            return True
        if op.kind == "restore" and isinstance(error, VersionNotFoundError):
            target_gone = RESTORE_TARGET not in self.reader.versions()
            return target_gone and f"no version {RESTORE_TARGET} " in str(error)
        if op.kind == "append" and isinstance(error, SchemaMismatchError):
            return any(o.kind in ("evolve", "restore") for o in self.ops)
        return False

    def check_end(self) -> None:
        for index, error in self.errors.items():
            if not self._allowed(self.ops[index], error):
                self.violate("f", f"{self.ops[index].name} failed: {error!r}")
        try:
            latest = Table(self.lake, NAME, self.raw)
        except AzofError as exc:
            self.violate("b", f"the table cannot be opened at the end: {exc!r}")
            return
        states = self._replay()
        versions = latest.versions()
        snapshots = {v: self._snapshot(latest, v) for v in versions}
        self._check_versions(latest, versions, snapshots, states)
        self._check_latest(latest, states)
        self._check_files(snapshots)
        self._check_failed(versions)

    def _snapshot(self, table: Table, version: int) -> Snapshot | None:
        try:
            return table.snapshot_at(version)
        except AzofError as exc:
            self.violate("c", f"retained version {version} cannot be read: {exc!r}")
            return None

    def _replay(self) -> dict[int, State]:
        """The oracle's state at every version an operation acknowledged (and the start)."""
        states = dict(SETUP_STATES)
        by_version: dict[int, Ack] = {}
        for ack in self.acks.values():
            if ack.version is None or ack.version in SETUP_STATES:
                continue  # no commit (nothing to do)
            if ack.version in by_version and by_version[ack.version].op != ack.op:
                other = by_version[ack.version].op.name
                self.violate("a", f"{other} and {ack.op.name} both acknowledged {ack.version}")
            by_version[ack.version] = ack
        state = states[max(SETUP_STATES)]
        for version in sorted(by_version):
            ack = by_version[version]
            state = ack.op.apply(state, ack)
            states[version] = state
        return states

    def _state_at(self, states: dict[int, State], version: int) -> State:
        return states[max(v for v in states if v <= version)]

    def _check_versions(
        self,
        table: Table,
        versions: list[int],
        snapshots: dict[int, Snapshot | None],
        states: dict[int, State],
    ) -> None:
        """(c) and (e): every retained version accounted for and answering as it should."""
        for version in versions:
            snapshot = snapshots[version]
            if snapshot is None:
                continue
            if version not in states:
                operation = snapshot.commit.operation if snapshot.commit else "seed"
                if operation != "vacuum":
                    self.violate(
                        "e",
                        f"version {version} ({operation}) landed but no operation acknowledged it",
                    )
            try:
                answer, max_deltas = self.answer(version)
            except AzofError as exc:
                self.violate("c", f"version {version} cannot be scanned: {exc!r}")
                continue
            state = self._state_at(states, version)
            if answer != expected_answer(state):
                self.violate(
                    "c",
                    f"version {version} answers {answer}, the oracle says {expected_answer(state)}",
                )
            if max_deltas != state.max_deltas:
                self.violate(
                    "c", f"version {version} has policy {max_deltas}, expected {state.max_deltas}"
                )
            if version in self.created and self.created[version][1:] != (answer, max_deltas):
                op, then, _ = self.created[version]
                self.violate(
                    "c", f"version {version} (by {op}) answered {then} when committed, now {answer}"
                )

    def _check_latest(self, table: Table, states: dict[int, State]) -> None:
        """(a): the latest state holds every acknowledged effect, also as of an event time."""
        last = max(states)
        if table.version < last:
            self.violate("a", f"version {last} was acknowledged but the latest is {table.version}")
            return
        state = self._state_at(states, table.version)
        for as_of in (None, AS_OF):
            try:
                answer = answer_of(table.scan(None if as_of is None else as_datetime(as_of)))
            except AzofError as exc:
                self.violate("a", f"the latest version cannot be scanned: {exc!r}")
                return
            expected = expected_answer(state, as_of)
            if answer != expected:
                when = "now" if as_of is None else "as of 2024-03-15"
                self.violate(
                    "a",
                    f"latest version {table.version} answers {when} {answer}, expected {expected}",
                )

    def _check_files(self, snapshots: dict[int, Snapshot | None]) -> None:
        """(d): deletes stay in the table and spare data files younger than the grace
        period when deleted; no retained version misses a file."""
        written: dict[str, tuple[str, float]] = {}
        for gate in self.gates:
            for (kind, path), at in zip(gate.calls, gate.times, strict=True):
                if kind in ("write", "create") and path.endswith((".parquet", ".json.gz")):
                    written[path] = (gate.name, at)
        for gate in self.gates:
            for (kind, path), at in zip(gate.calls, gate.times, strict=True):
                if kind != "delete":
                    continue
                if not path.startswith(f"{NAME}/"):
                    self.violate("d", f"{gate.name} deleted {path}, outside the table")
                owner, written_at = written.get(path, (gate.name, 0.0))
                grace = self.graces.get(gate.name)
                if owner == gate.name or grace is None:
                    continue  # its own file (a refused append), or not a vacuum
                age = at - written_at + self.slack
                if age < grace:
                    self.violate(
                        "d",
                        f"{gate.name} deleted {path}, written by {owner} {age:.3f}s before, "
                        f"within the grace period ({grace:.3f}s)",
                    )
        present = {obj.path for obj in self.raw.list("")}
        for version, snapshot in snapshots.items():
            if snapshot is None:
                continue
            missing = sorted(f.file for f in snapshot.files() if f.file not in present)
            if missing:
                self.violate("d", f"retained version {version} lost its files {missing}")
            lost = sorted(m.path for m in snapshot.manifests() if m.path not in present)
            if lost:
                self.violate("d", f"retained version {version} lost its manifests {lost}")

    def _check_failed(self, versions: list[int]) -> None:
        """(e): nothing a failed operation writes shows in any retained version."""
        for index in self.errors:
            keys, columns, markers = self.ops[index].marks()
            for version in versions:
                try:
                    (names, rows), max_deltas = self.answer(version)
                except (AzofError, FileNotFoundError):
                    continue
                shown = {row[0] for row in rows} & keys | set(names) & columns
                if max_deltas in markers:
                    shown.add(f"policy {max_deltas}")
                if shown:
                    self.violate(
                        "e",
                        f"{self.ops[index].name} failed but version {version} shows {shown}",
                    )


def memory_lake(base: Storage, batch: int = 32) -> Lake:
    """Scenarios on ``memory://`` lakehouses, each a copy of ``base`` (made ``batch`` at a
    time, then left to age past the margin)."""
    ready: list[tuple[Lakehouse, Storage]] = []
    margin = 0.25

    def open_fresh() -> tuple[Lakehouse, Storage]:
        if not ready:
            for _ in range(batch):
                lake = Lakehouse(f"memory://interleave-{uuid.uuid4().hex}")
                copy_lake(base, lake.storage)
                ready.append((lake, lake.storage))
            time.sleep(margin * 1.2)
        return ready.pop()

    return Lake(open_fresh, margin=margin)


def run_scenario(lake: Lake, ops: Sequence[Op], steps: Sequence[Step]) -> list[str]:
    """Run ``steps`` over ``ops`` on a fresh copy of the starting table; the violations.
    The copy is emptied afterwards (memory stores live as long as the process)."""
    lakehouse, root = lake.open_fresh()
    try:
        return Scenario(lakehouse, root, ops, lake.margin, lake.slack).run(steps)
    finally:
        for obj in root.list(""):
            root.delete(obj.path)
