"""azof's core works with none of the optional engines installed.

A child interpreter blocks the imports of every optional extra (DataFusion, DuckDB,
polars, pandas, PySpark, deltalake) and then writes, compacts, scans and streams a table.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import sys

    class Blocker:
        blocked = ("datafusion", "duckdb", "polars", "pandas", "pyspark", "deltalake")

        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in self.blocked:
                raise ImportError(f"{name} is blocked: an optional extra")
            return None

    sys.meta_path.insert(0, Blocker())
    import pyarrow as pa
    import azof

    lake = azof.Lakehouse(sys.argv[1])
    t = lake.create_table("p", pa.schema([("key", pa.string()),
        ("event_time", pa.timestamp("ms", tz="UTC")), ("px", pa.float64())]))
    t.put("A", "2024-01-02", px=1.0)
    t.put("A", "2024-01-01", px=0.5)
    t.delete("A", event_time="2024-03-01")
    t.compact()
    assert t.scan(as_of="2024-01-01T12:00:00Z").column("px").to_pylist() == [0.5]
    assert t.scan().num_rows == 0
    assert sum(b.num_rows for b in t.to_batches(as_of="2024-02-01")) == 1
    assert [c.operation for c in t.log()][-1] == "compact"
    for method, extra in (("to_pandas", "pandas"), ("to_polars", "polars")):
        try:
            getattr(t, method)()
        except ImportError as exc:
            assert f"pip install 'azof[{extra}]'" in str(exc), exc
        else:
            raise AssertionError(f"{method} ran without {extra}")
    print("ok")
    """
)


def test_core_runs_without_optional_extras(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
