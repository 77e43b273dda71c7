"""Checking a snapshot's data files without reading their rows: ``Table.verify``.

Opening a table reads only its snapshot, and a read checks the files it plans. A
verification checks every file the snapshot names: that it exists (one listing of the
table folder), that it is readable Parquet (its footer) and that it holds the columns the
snapshot says, with readable types (``docs/spec.md``, "Validity rules").
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from azof.errors import CorruptTableError
from azof.format.snapshot import DataFile, Snapshot
from azof.scan.read import file_columns, open_fragment
from azof.storage import Storage
from azof.tablelog import snapshot_name

__all__ = ["verify_files"]

_READERS = 8
"""Footers read at once (each is a small ranged read: latency, not bandwidth, bound)."""
_SHOWN = 5
"""Problems named in the error; the rest are counted."""


def verify_files(storage: Storage, table: str, snapshot: Snapshot) -> int:
    """Check every data file of ``snapshot``; the number of files checked. All problems
    found are reported together in one ``CorruptTableError``."""
    files = list({f.file: f for f in snapshot.files()}.values())
    present = {obj.path for obj in storage.list("")}
    named = f"{snapshot_name(snapshot.version)} names "
    missing = [f.file for f in files if f.file not in present]
    problems = [f"{named}data file {name}, which is missing" for name in missing]
    filesystem = storage.arrow_filesystem()

    def check(data_file: DataFile) -> str | None:
        try:
            fragment = open_fragment(table, data_file, filesystem, version=snapshot.version)
            file_columns(table, snapshot.schema, data_file, fragment.physical_schema)
        except CorruptTableError as exc:
            return str(exc).removeprefix(f"table {table!r}: ")
        return None

    readable = [f for f in files if f.file in present]
    with ThreadPoolExecutor(max_workers=min(_READERS, max(1, len(readable)))) as pool:
        problems += [p for p in pool.map(check, readable) if p is not None]
    if problems:
        shown = "; ".join(problems[:_SHOWN])
        more = f"; and {len(problems) - _SHOWN} more" if len(problems) > _SHOWN else ""
        raise CorruptTableError(
            f"table {table!r}: {len(problems)} of the {len(files)} data files of version "
            f"{snapshot.version} are damaged: {shown}{more}; restore them or read another "
            "version"
        )
    return len(files)
