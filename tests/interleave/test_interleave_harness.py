"""The harness itself: the gate pauses and resumes an operation at a chosen storage call,
every read goes through the wrapper (Parquet reads too, even on local disk), and a planted
data-loss bug (the old vacuum that deleted expired snapshots, freeing their numbers) is
reported."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from azof import Lakehouse
from azof.storage import Storage
from azof.table import Table
from interleave.gate import Gate, GatedStorage
from interleave.model import NAME, Ack, Op, build_base
from interleave.pairs import run_pairs
from interleave.scenario import Lake, Scenario, Step, copy_lake, run_scenario


def test_gate_pauses_at_the_chosen_call_and_resumes(memory: Lake) -> None:
    lakehouse, root = memory.open_fresh()
    scenario = Scenario(lakehouse, root, [Op("append", 1)], memory.margin)
    gate = scenario.gates[0]
    assert scenario.runner.start(gate, scenario._work(0), pause_at=5)
    assert len(gate.calls) == 6  # calls 0..4 done, call 5 waiting at the gate
    assert not scenario.runner.outcome(gate.name).done
    assert not scenario.runner.resume(gate.name)
    outcome = scenario.runner.outcome(gate.name)
    assert outcome.error is None
    assert isinstance(outcome.value, Ack)
    assert outcome.value.version == 6
    assert [kind for kind, _ in gate.calls].count("create") == 1


def test_parquet_reads_go_through_the_wrapper_on_local_disk(tmp_path: Path) -> None:
    lake = Lakehouse(tmp_path)
    build_base(lake)
    gate = Gate("reader")
    table = Table(lake, NAME, GatedStorage(lake.storage, gate).child(NAME))
    assert table.scan().num_rows > 0
    parquet = {kind for kind, path in gate.calls if path.endswith(".parquet")}
    # not pyarrow's native local filesystem: ranges, or a small file read whole
    assert parquet
    assert parquet <= {"read", "read_range"}
    assert all(path.startswith(f"{NAME}/") for _, path in gate.calls)


@dataclass(frozen=True)
class OldVacuum(Op):
    """The vacuum before the commit protocol: expired snapshots deleted outright."""

    def run(self, table: Table, grace: object) -> Ack:
        for version in table.versions()[: -self.retain]:
            table.storage.delete(f"s{version}.json")
        return Ack(self, None)


def test_a_freed_snapshot_number_is_reported(memory: Lake) -> None:
    lakehouse, root = memory.open_fresh()
    solo = Scenario(lakehouse, root, [Op("append", 1)], memory.margin)
    solo.run([Step("start", 0)])
    before_create = [kind for kind, _ in solo.gates[0].calls].index("create")
    ops = [Op("append", 1), Op("append", 2), Op("append", 3), OldVacuum("vacuum", 4)]
    steps = [Step("start", 0, before_create), Step("start", 1), Step("start", 2)]
    violations = run_scenario(memory, ops, [*steps, Step("start", 3)])
    text = "\n".join(violations)
    assert "snapshot number 6 created twice" in text
    assert "(a) append#2 and append#1 both acknowledged 6" in text
    assert "(a) latest version 7 answers now" in text  # append#1's rows are lost


def _local_lake(root: Path, base: Storage) -> Lake:
    def open_fresh() -> tuple[Lakehouse, Storage]:
        folder = root / uuid.uuid4().hex
        folder.mkdir()
        lake = Lakehouse(folder)
        copy_lake(base, lake.storage)
        time.sleep(0.3)  # older than the margin
        return lake, lake.storage

    return Lake(open_fresh, margin=0.25)


def test_local_disk_pair(tmp_path: Path) -> None:
    """The slow writer and the vacuum on local disk (the wrapper forces Parquet reads
    through itself there too): paused before its data file, before its commit, before
    its version hint."""
    base = Lakehouse(f"memory://interleave-local-base-{uuid.uuid4().hex}")
    build_base(base)
    lake = _local_lake(tmp_path, base.storage)
    failures = run_pairs(lake, "append", "vacuum", [7, 8, 9])
    assert not failures, "\n".join(failures)


def test_grace_is_measured_from_the_scenario_start(memory: Lake) -> None:
    lakehouse, root = memory.open_fresh()
    scenario = Scenario(lakehouse, root, [Op("vacuum", 1)], memory.margin)
    violations = scenario.run([Step("start", 0)])
    assert not violations
    assert timedelta(seconds=scenario.graces["vacuum(retain=1)#1"]) >= timedelta(
        seconds=memory.margin
    )
