"""Maintenance processes (compaction, vacuum, restore, evolve) racing append processes, and
killed with SIGKILL at random moments while the appends go on (azof issue 14).

Every worker prints an ack line after each operation that landed (``append_worker.py``:
``ack WORKER BATCH VERSION``; ``maintenance_worker.py``: ``restored VERSION TARGET`` ...).
Each appended batch has keys of its own, so a table's state is a set of batches, and the
expected state of every version follows from the acks: an append adds its batch, a restore
to T makes the state that of T (restores that landed unacknowledged, from a killed worker,
are found in the log). Compaction, vacuum and evolve change no state. The checks never
assume that versions start at 0 (vacuum expires the first ones) or that every commit is an
append (vacuum and evolve land commits of their own).
"""

from __future__ import annotations

import bisect
import itertools
import json
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import azof
from append_worker import batch_rows, command

HERE = Path(__file__).resolve().parent
MAINTAINER = str(HERE / "maintenance_worker.py")
SCHEMA = pa.schema(
    [("key", pa.string()), ("event_time", pa.timestamp("ms", tz="UTC")), ("value", pa.int64())]
)
ROWS = 5  # rows per appended batch: small, the commits are what is tested
TEST_WORKER = 9  # the worker number of the test's own appends (batch = round)

Batch = tuple[int, int]  # (worker, batch)
State = frozenset[Batch]


class Proc:
    """A worker process whose output lines are collected by threads while it runs."""

    def __init__(self, args: list[str]) -> None:
        self.args = args
        self.process = subprocess.Popen(
            [sys.executable, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.errors: list[str] = []
        self.killed = False
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, self.lines)),
            threading.Thread(target=self._read, args=(self.process.stderr, self.errors)),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: Any, into: list[str]) -> None:
        for line in stream:
            into.append(line.rstrip("\n"))
        stream.close()

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_for(self, word: str, timeout: float = 60) -> None:
        """Until the process printed a line starting with ``word`` (it must not exit first)."""
        deadline = time.monotonic() + timeout
        while not any(line.split()[:1] == [word] for line in list(self.lines)):
            assert self.alive(), f"{self.args[:1]} exited early: {self.stderr()}"
            assert time.monotonic() < deadline, f"{self.args[:1]} never printed {word!r}"
            time.sleep(0.01)

    def go(self) -> None:
        """Start the rounds of a worker started with ``wait`` (after its ``ready``)."""
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def kill(self) -> None:
        self.process.kill()
        self.killed = True
        self.join()

    def join(self, timeout: float = 300) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=timeout)
        for reader in self._readers:
            reader.join()

    def finish(self, timeout: float = 300) -> None:
        """Wait for a clean exit (status 0)."""
        self.join(timeout)
        assert self.process.returncode == 0, f"{self.args[:1]} failed: {self.stderr()}"

    def stderr(self) -> str:
        return "\n".join(self.errors[-30:])

    def words(self, kind: str) -> list[list[str]]:
        return [
            parts for parts in (line.split() for line in list(self.lines)) if parts[:1] == [kind]
        ]


def start_appender(
    lake: str, table: str, options: dict[str, Any], worker: int, batches: int, pause: float
) -> Proc:
    return Proc(command(lake, table, options, worker, batches, ROWS, pause))


def start_maintainer(
    lake: str, table: str, options: dict[str, Any], operation: str, settings: dict[str, Any]
) -> Proc:
    return Proc([MAINTAINER, lake, table, json.dumps(options), operation, json.dumps(settings)])


@dataclass
class Journal:
    """What was acknowledged: by the worker processes and by the test's own writes."""

    procs: list[Proc] = field(default_factory=list)
    own: list[tuple[int, int, int]] = field(default_factory=list)  # (worker, batch, version)

    def appends(self) -> list[tuple[int, int, int]]:
        acked = [(int(w), int(b), int(v)) for p in self.procs for _, w, b, v in p.words("ack")]
        return acked + self.own

    def restores(self) -> dict[int, int]:
        """Acknowledged restores: new version -> restored version."""
        return {int(v): int(t) for p in self.procs for _, v, t in p.words("restored")}

    def versions(self) -> list[tuple[str, int]]:
        """Every acknowledged commit as (what, version)."""
        landed = [(f"append {w}/{b}", v) for w, b, v in self.appends()]
        landed += [(f"restore to {t}", v) for v, t in self.restores().items()]
        landed += [("compact", int(p[1])) for proc in self.procs for p in proc.words("compacted")]
        landed += [("evolve", int(p[1])) for proc in self.procs for p in proc.words("evolved")]
        return landed


class Model:
    """The expected state (set of batches) of every version, from appends and restores."""

    def __init__(self, appends: Iterable[tuple[int, int, int]], restores: dict[int, int]) -> None:
        events: list[tuple[int, int, Any]] = [(v, 0, (w, b)) for w, b, v in appends]
        events += [(v, 1, target) for v, target in restores.items()]
        self.versions: list[int] = []
        self.states: list[State] = []
        state: State = frozenset()
        for version, kind, what in sorted(events):
            state = state | {what} if kind == 0 else self.state(what)
            if self.versions and self.versions[-1] == version:
                self.states[-1] = state  # a reused version number: the checks report it
            else:
                self.versions.append(version)
                self.states.append(state)

    def state(self, version: int) -> State:
        at = bisect.bisect_right(self.versions, version)
        return self.states[at - 1] if at else frozenset()


def batches_in(answer: pa.Table) -> State:
    """The batches a scan holds; every batch must be whole, with the values it was written
    with (a batch's keys are its own)."""
    keys = answer.column("key").to_pylist()
    found = frozenset((int(w[1:]), int(b[1:])) for w, b, _ in (key.split("-") for key in keys))
    expected = sorted(
        (key, value)
        for w, b in found
        for key, value in zip(
            *batch_rows(w, b, ROWS).select(["key", "value"]).to_pydict().values(), strict=True
        )
    )
    got = sorted(zip(keys, answer.column("value").to_pylist(), strict=True))
    assert got == expected, "a batch is partly visible, or has other values than written"
    return found


def state_of(table: azof.Table, version: int | None = None) -> State:
    return batches_in(table.scan(columns=["key", "value"], version=version))


def restores_in_log(table: azof.Table, log: list[azof.Commit]) -> dict[int, int]:
    return {
        c.version: int(table.snapshot_at(version=c.version).commit.summary["restored_version"])  # type: ignore[union-attr]
        for c in log
        if c.operation == "restore"
    }


def log_problems(log: list[azof.Commit]) -> list[str]:
    """Every commit builds on the version just before it; commit times only grow."""
    problems = []
    for entry in log:
        if entry.operation != "create" and entry.parent != entry.version - 1:
            problems.append(f"version {entry.version} has parent {entry.parent}")
    for before, after in itertools.pairwise(log):
        if after.time <= before.time:
            problems.append(
                f"version {after.version} ({after.operation}, {after.time}) is not later than "
                f"version {before.version} ({before.operation}, {before.time}): the log goes "
                "backwards"
            )
    return problems


def short(items: list[int], limit: int = 30) -> str:
    return str(items) if len(items) <= limit else f"{str(items[:limit])[:-1]}, ...]"


def describe(batches: Iterable[Batch], versions: dict[Batch, int]) -> str:
    return ", ".join(f"{w}/{b}@v{versions.get((w, b), '?')}" for w, b in sorted(batches)[:12])


def check_table(
    lake: azof.Lakehouse,
    options: dict[str, Any],
    name: str,
    journal: Journal,
    recorded: dict[int, State],
    observed: list[int],
    seed: int,
    sample: int = 6,
) -> None:
    """The final checks, once every writer has stopped: the latest state and a sample of
    versions are exactly what the acks say, verify() passes, a fresh open agrees, no
    version number was used twice and no version goes backwards."""
    table = lake.table(name)
    log = table.log()
    versions = table.versions()
    appends = journal.appends()
    restores = {**restores_in_log(table, log), **journal.restores()}
    model = Model(appends, restores)
    acked_at = {(w, b): v for w, b, v in appends}
    problems = log_problems(log)
    reused = sorted(v for v, n in Counter(v for _, v in journal.versions()).items() if n > 1)
    if reused:
        problems.append(f"versions acknowledged more than once: {short(reused)}")
    for proc in journal.procs:  # each worker's own commits only move forward
        mine = [int(p[3]) for p in proc.words("ack")]
        if mine != sorted(set(mine)):
            problems.append(f"a worker's acknowledged versions go backwards: {short(mine)}")
    if observed != sorted(observed):
        changes = [v for i, v in enumerate(observed) if i == 0 or v != observed[i - 1]]
        problems.append(f"the latest version seen by a reader went backwards: {short(changes)}")
    latest = table.version
    if versions[-1] != latest or latest < max(v for _, v in journal.versions()):
        problems.append(f"the latest version {latest} is not the last one ({versions[-5:]})")
    state = state_of(table)
    last_restore = max((v for v in restores if v <= latest), default=-1)
    missing = {(w, b) for w, b, v in appends if v > last_restore and (w, b) not in state}
    if missing:
        problems.append(
            f"acknowledged appends missing from the latest version {latest}: "
            f"{describe(missing, acked_at)} ({len(missing)} batches)"
        )
    if state != model.state(latest):
        extra = state - model.state(latest)
        lost = model.state(latest) - state
        problems.append(
            f"version {latest} holds batches {describe(extra, acked_at)} it should not, and "
            f"lacks {describe(lost, acked_at)}"
        )
    retained = set(versions)
    for version, answer in sorted(recorded.items()):
        if version in retained and answer != model.state(version):
            problems.append(f"version {version} scanned, right after it landed, not as expected")
    for version in random.Random(seed).sample(versions, min(sample, len(versions))):
        if (
            version in recorded
            and version in retained
            and state_of(table, version) != recorded[version]
        ):
            problems.append(f"version {version} scans differently now than right after it landed")
        if state_of(table, version) != model.state(version):
            problems.append(f"version {version} does not scan as the acks say it should")
    fresh = azof.Lakehouse(lake.uri, storage_options=options or None).table(name)
    if fresh.version != latest or state_of(fresh) != state:
        problems.append(f"a fresh open reads version {fresh.version}, not {latest}")
    assert not problems, f"seed {seed}, table {name}:\n" + "\n".join(problems[:20])
    table.verify()


def record_while(
    lake: azof.Lakehouse, name: str, running: Callable[[], bool], pause: float = 0.03
) -> tuple[dict[int, State], list[int]]:
    """While ``running()``: the answer of each new latest version seen, and every latest
    version seen, in order (a reader refreshing a table)."""
    table = lake.table(name)
    recorded: dict[int, State] = {}
    observed: list[int] = []
    while running():
        try:
            table.refresh()
            observed.append(table.version)
            if table.version not in recorded:
                recorded[table.version] = state_of(table)
        except azof.VersionNotFoundError:
            pass  # vacuumed between the refresh and the read
        time.sleep(pause)
    return recorded, observed


def new_table(lake_uri: str, options: dict[str, Any], prefix: str) -> tuple[azof.Lakehouse, str]:
    lake = azof.Lakehouse(lake_uri, storage_options=options or None)
    name = f"{prefix}{uuid.uuid4().hex[:6]}"
    lake.create_table(name, SCHEMA)
    return lake, name


def local_lake(tmp_path: Path) -> str:
    lake = tmp_path / "lake"
    lake.mkdir()
    return str(lake)


# -- maintenance racing appends ---------------------------------------------------------------

LOOPS: dict[str, dict[str, Any]] = {
    "compact": {"pause": 0.1},
    "vacuum": {"retain_versions": 3, "grace": "30s", "pause": 0.05},
    "restore": {"pause": 0.3},
    "evolve": {"pause": 0.3},
}


def run_maintenance_race(
    lake_uri: str,
    options: dict[str, Any],
    scratch: Path,
    operations: list[str],
    *,
    seed: int,
    writers: int = 3,
    batches: int = 40,
) -> None:
    """``writers`` append processes x ``batches`` small appends, with one loop process per
    maintenance operation running until the appends are done; then the final checks."""
    lake, name = new_table(lake_uri, options, "mrace")
    stop = scratch / f"stop-{name}"
    rng = random.Random(seed)
    loops = [
        start_maintainer(
            lake_uri,
            name,
            options,
            op,
            {**LOOPS[op], "stop": str(stop), "seed": rng.randrange(2**32)},
        )
        for op in operations
    ]
    appenders = [start_appender(lake_uri, name, options, w, batches, 0.005) for w in range(writers)]
    for loop in loops:  # the compaction loop is ready once there are deltas: after this
        loop.wait_for("ready")
    recorded, observed = record_while(
        lake, name, lambda: any(p.alive() for p in appenders), pause=0.05
    )
    stop.touch()
    for proc in appenders + loops:
        proc.finish()
    journal = Journal(appenders + loops)
    assert len(journal.appends()) == writers * batches
    check_table(lake, options, name, journal, recorded, observed, seed, sample=8)


def test_compaction_and_vacuum_loops_racing_appends(tmp_path: Path) -> None:
    """The run of issue 14 that lost acknowledged appends while verify() passed."""
    run_maintenance_race(local_lake(tmp_path), {}, tmp_path, ["compact", "vacuum"], seed=14)


def test_all_maintenance_loops_racing_appends(tmp_path: Path) -> None:
    run_maintenance_race(
        local_lake(tmp_path), {}, tmp_path, ["compact", "vacuum", "restore", "evolve"], seed=41
    )


# -- maintenance processes killed while appends go on ------------------------------------------

KILLED: dict[str, dict[str, Any]] = {
    "compact": {"pause": 0.02},
    "vacuum": {"retain_versions": 3, "grace": "5s", "pause": 0.02},
    "restore": {"pause": 0.05, "choose": 6},
    "evolve": {"pause": 0.1},
}


def start_appenders(
    lake: str,
    table: str,
    options: dict[str, Any],
    stop: Path,
    *,
    writers: int,
    batches: int,
    pause: float,
) -> list[Proc]:
    """Append processes (of ``maintenance_worker.py``) writing ``batches`` batches each,
    or fewer if ``stop`` exists earlier."""
    settings = {"stop": str(stop), "rows": ROWS, "pause": pause, "rounds": batches}
    return [
        start_maintainer(lake, table, options, "append", {**settings, "worker": w})
        for w in range(writers)
    ]


def run_maintenance_kills(
    lake_uri: str,
    options: dict[str, Any],
    scratch: Path,
    operation: str,
    *,
    seed: int,
    rounds: int,
    window: tuple[float, float] = (0.0, 0.4),
    batches: int = 60,
) -> None:
    """``rounds`` times: a ``operation`` loop process is SIGKILLed after a random time while
    two append processes write; after each kill the table opens, verifies, holds every
    acknowledged append (unless a restore landed after it), and takes a compaction, a
    vacuum and an append. Once the appends stop: the final checks, a vacuum with no grace,
    a compaction and an append."""
    rng = random.Random(seed)
    lake, name = new_table(lake_uri, options, f"kill{operation}")
    stop = scratch / f"stop-{name}"
    appenders = start_appenders(
        lake_uri, name, options, stop, writers=2, batches=batches, pause=0.03
    )
    journal = Journal(list(appenders))

    def maintainer() -> Proc:  # started ahead of its round: the start-up overlaps
        settings = {**KILLED[operation], "seed": rng.randrange(2**32), "wait": True}
        worker = start_maintainer(lake_uri, name, options, operation, settings)
        journal.procs.append(worker)
        return worker

    upcoming = maintainer()
    for proc in appenders:
        proc.wait_for("ack")
    for round_ in range(rounds):
        worker, upcoming = upcoming, maintainer() if round_ + 1 < rounds else None
        worker.wait_for("ready")
        worker.go()
        time.sleep(rng.uniform(*window))
        worker.kill()
        acked = journal.appends()  # before the table is opened: all of them landed
        table = lake.table(name)  # opens after any kill
        table.verify()
        restores = {**restores_in_log(table, table.log()), **journal.restores()}
        last_restore = max((v for v in restores if v <= table.version), default=-1)
        state = state_of(table)
        missing = [(w, b, v) for w, b, v in acked if v > last_restore and (w, b) not in state]
        assert not missing, (
            f"seed {seed}, {operation} killed in round {round_}: acknowledged appends "
            f"missing from version {table.version}: {missing[:10]}"
        )
        table.compact(azof.CompactionPolicy(segment=rng.choice(["day", "week", "month"])))
        table.vacuum(grace="30s")  # writers are in flight: their files are young
        version = table.append(
            batch_rows(TEST_WORKER, round_, ROWS),
            properties={"worker": str(TEST_WORKER), "batch": str(round_)},
        )
        journal.own.append((TEST_WORKER, round_, version))
        assert (TEST_WORKER, round_) in state_of(table)
    stop.touch()
    for proc in appenders:
        proc.finish()
    check_table(lake, options, name, journal, {}, [], seed)
    table = lake.table(name)
    before = state_of(table)
    table.vacuum(grace="0s")  # no writer in flight: files of killed commits go now
    table.verify()
    assert state_of(lake.table(name)) == before
    table.compact()
    version = table.append(batch_rows(TEST_WORKER, rounds, ROWS))
    assert state_of(table) == before | {(TEST_WORKER, rounds)}
    assert lake.table(name).version == version


@pytest.mark.parametrize("operation", ["compact", "vacuum", "restore", "evolve"])
def test_sigkill_maintenance_on_local_disk(tmp_path: Path, operation: str) -> None:
    seed = {"compact": 101, "vacuum": 202, "restore": 303, "evolve": 404}[operation]
    run_maintenance_kills(local_lake(tmp_path), {}, tmp_path, operation, seed=seed, rounds=5)


@pytest.mark.slow
@pytest.mark.parametrize("operation", ["compact", "vacuum", "restore", "evolve"])
def test_sigkill_maintenance_many_rounds(tmp_path: Path, operation: str) -> None:
    seed = {"compact": 111, "vacuum": 222, "restore": 333, "evolve": 444}[operation]
    run_maintenance_kills(local_lake(tmp_path), {}, tmp_path, operation, seed=seed, rounds=20)
