"""``azof gen``: the seed's CSV -> Parquet step, and sample tables (``azof.sample``)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import azof
from azof.cli import main
from azof.sample import SCHEMAS, generate, period_bounds
from azof.timestamps import parse_instant

SEED_FILES = {
    "table0": ["base", "delta1"],
    "table1": ["delta1", "delta2"],
    "table2": ["base", "delta1"],
}


def test_gen_reproduces_the_seed_parquet_files(azof_cli, writable_copy, seed: Path) -> None:
    lake = writable_copy(*SEED_FILES)
    for name in SEED_FILES:
        for parquet in (lake / name).glob("*.parquet"):
            parquet.unlink()  # gen makes them again from the CSVs beside the snapshot
    for name, bases in SEED_FILES.items():
        args = [arg for base in bases for arg in ("--file", base)]
        result = azof_cli("gen", "--path", lake, "--table", name, *args)
        assert (result.code, result.stderr) == (0, ""), result
        rows = {base: pq.read_metadata(seed / name / f"{base}.parquet").num_rows for base in bases}
        assert result.stdout.splitlines() == [
            f"wrote {name}/{base}.parquet: {rows[base]} rows" for base in bases
        ]
        for base in bases:
            made = pq.read_table(lake / name / f"{base}.parquet")
            original = pq.read_table(seed / name / f"{base}.parquet")
            assert made.schema.equals(original.schema, check_metadata=True), (name, base)
            assert made.equals(original), (name, base)
    # and the tables read as the seed's published expectations say
    table1 = azof.Lakehouse(lake).table("table1")
    current = table1.scan()
    assert dict(zip(current["key"].to_pylist(), current["value"].to_pylist(), strict=True)) == {
        "1": "abc4",
        "2": "xyz3",
    }


def test_gen_seed_errors(azof_cli, writable_copy) -> None:
    lake = writable_copy("table2")
    csv = lake / "table2" / "delta1.csv"
    csv.write_text(csv.read_text().replace(",222,", ",lots,"))
    result = azof_cli("gen", "--path", lake, "--table", "table2", "--file", "delta1")
    result.assert_clean_error("table 'table2': delta1.csv: column 'value2'", "int64", "'lots'")
    assert result.code == 1

    # Arrow's default null markers are values: NA in a number column is an error, not a null
    csv.write_text(csv.read_text().replace(",lots,", ",NA,"))
    result = azof_cli("gen", "--path", lake, "--table", "table2", "--file", "delta1")
    result.assert_clean_error("table 'table2': delta1.csv: column 'value2'", "int64", "'NA'")

    result = azof_cli("gen", "--path", lake, "--table", "table2", "--file", "nope")
    result.assert_clean_error("no nope.csv beside its snapshot")
    assert result.code == 1


def kv_table(batches: list[pa.Table]) -> pa.Table:
    """The current state of the generated batches (the oracle: latest row per key)."""
    rows: dict[str, dict[str, object]] = {}
    for batch in batches:
        for row in batch.sort_by([("key", "ascending"), ("event_time", "ascending")]).to_pylist():
            known = rows.get(row["key"])
            if known is None or row["event_time"] >= known["event_time"]:  # type: ignore[operator]
                rows[row["key"]] = row
    return pa.Table.from_pylist([rows[k] for k in sorted(rows)], schema=SCHEMAS["kv"])


def test_gen_sample_table(azof_cli, tmp_path: Path) -> None:
    args = ["--rows", "600", "--keys", "25", "--late-fraction", "0.2", "--seed", "7"]
    args += ["--start", "2024-01-01", "--end", "2024-06-30"]
    result = azof_cli(
        "gen", "--path", tmp_path / "new", "--table", "kv", "--kind", "kv", *args,
        env={"AZOF_OUTPUT": "rich"},
    )  # fmt: skip
    assert result.code == 0, result
    assert result.stdout.rstrip().endswith(
        "generated kv table kv: 600 rows, 25 keys, 6 commits (versions 1-6)"
    )
    assert "Generating kv" in result.stderr  # the progress bar, forced by AZOF_OUTPUT=rich

    batches = list(generate("kv", 600, 25, 0.2, 7, "2024-01-01", "2024-06-30"))
    table = azof.Lakehouse(tmp_path / "new").table("kv")
    assert table.schema == SCHEMAS["kv"]
    assert [c.rows for c in table.log()[1:]] == [b.num_rows for b in batches]
    assert table.scan().equals(kv_table(batches))
    march = datetime(2024, 3, 31, 23, 59, 59, 999_000, tzinfo=UTC)
    known = [b.filter(pc.field("event_time") <= pa.scalar(march)) for b in batches]
    assert table.scan(march).equals(kv_table(known))


def test_gen_usage_errors(azof_cli, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = azof_cli(
        "gen", "--path", tmp_path, "--table", "t", "--kind", "kv", "--start", "someday"
    )
    result.assert_clean_error("'--start'", "someday")
    assert result.code == 2
    cases = [
        (["--file", "base", "--rows", "5"], "--rows go with --kind"),
        ([], "either --file BASE"),
        (
            ["--kind", "kv", "--start", "2024-02-01", "--end", "2024-01-01"],
            "end must be after start",
        ),
    ]
    for extra, fragment in cases:
        assert main(["gen", "--path", str(tmp_path), "--table", "t", *extra]) != 0
        err = capsys.readouterr().err
        assert err.startswith("error: "), err
        assert fragment in err, err
    assert azof.Lakehouse(tmp_path).tables() == []  # nothing created by a refused gen


# -- azof.sample, in process -----------------------------------------------------------------


def test_generate_is_deterministic_with_late_rows() -> None:
    first = list(generate("financials", 5_000, 200, late_fraction=0.1, seed=3))
    again = list(generate("financials", 5_000, 200, late_fraction=0.1, seed=3))
    other = list(generate("financials", 5_000, 200, late_fraction=0.1, seed=4))
    assert len(first) == len(again) == 120  # monthly, 2015-2024
    assert all(a.equals(b) for a, b in zip(first, again, strict=True))
    assert not all(a.equals(b) for a, b in zip(first, other, strict=False))
    assert sum(b.num_rows for b in first) == 5_000
    assert all(b.schema == SCHEMAS["financials"] for b in first)

    bounds = period_bounds(parse_instant("2015-01-01"), parse_instant("2025-01-01"), "month")
    late = 0
    for batch, (low, high) in zip(first, itertools.pairwise(bounds), strict=True):
        times = batch["event_time"].cast(pa.int64()).to_numpy() * 10**6
        assert (times < high).all()  # nothing from the future
        late += int((times < low).sum())
    assert 350 < late < 650  # about 10 % of 5,000
    keys = {k for b in first for k in b["key"].to_pylist()}
    assert len(keys) <= 200
    assert all(k.isalpha() and k.isupper() and 1 <= len(k) <= 6 for k in keys)
    nulls = sum(b["industry"].null_count for b in first)
    assert nulls < 200


def test_generate_refuses_bad_arguments() -> None:
    with pytest.raises(azof.InvalidArgumentError, match="kind"):
        generate("nope", 10, 1)
    with pytest.raises(azof.InvalidArgumentError, match="late_fraction"):
        generate("kv", 10, 1, late_fraction=1.5)
    with pytest.raises(azof.InvalidArgumentError, match="keys"):
        generate("kv", 10, 0)
    assert list(generate("kv", 0, 1)) == []
    one_day = list(generate("kv", 50, 5, start="2024-03-01", end="2024-03-01"))
    assert [b.num_rows for b in one_day] == [50]  # one period, no late rows possible
