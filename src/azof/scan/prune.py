"""Pruning planned files by their records' key bounds, without opening them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from azof.format.keys import key_from_json
from azof.format.schema import TableSchema
from azof.format.snapshot import Snapshot
from azof.scan.plan import PlannedFile

__all__ = ["ruled_out_by_key_range"]


def _bounds_guarantee(schema: TableSchema, least: Any, greatest: Any) -> pc.Expression | None:
    """What a record's ``min_key``/``max_key`` promise about its rows, as an expression:
    the key within them (a composite key: its first column within theirs, and each next
    column within theirs while the ones before are equal in both bounds)."""
    keys = schema.keys
    if len(keys) == 1:
        least, greatest = (least,), (greatest,)
    if not isinstance(least, tuple) or not isinstance(greatest, tuple):
        return None
    if len(least) != len(keys) or len(greatest) != len(keys):
        return None
    guarantee: pc.Expression | None = None
    for index, column in enumerate(keys):
        try:
            low = key_from_json(least[index], column.type)
            high = key_from_json(greatest[index], column.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
            return guarantee  # a record whose keys are not of the key's kind
        part = (pc.field(column.name) >= low) & (pc.field(column.name) <= high)
        guarantee = part if guarantee is None else guarantee & part
        if least[index] != greatest[index]:
            break
    return guarantee


def ruled_out_by_key_range(
    snapshot: Snapshot,
    planned: Sequence[PlannedFile],
    condition: pc.Expression | None,
    filesystem: Any,
) -> set[str]:
    """The planned files that ``condition`` cannot match by their records' ``min_key`` and
    ``max_key`` alone, found without opening them (a point lookup on a large table then
    reads the footers of the few files that may hold the key, not of all)."""
    # only a condition that names the key can rule a file out by its keys: an as-of time
    # alone (most reads) skips the work (the text test only gates it, it decides nothing)
    schema = snapshot.schema
    text = str(condition) if condition is not None else ""
    if not any(re.search(rf"\b{re.escape(name)}\b", text) for name in schema.key_names):
        return set()
    fmt = ds.ParquetFileFormat()
    fragments, bounded = [], []
    for item in planned:
        least, greatest = item.file.min_key, item.file.max_key
        if least is None or greatest is None:
            continue
        guarantee = _bounds_guarantee(schema, least, greatest)
        if guarantee is None:
            continue  # a record whose keys are not of the key's kind: open the file
        fragments.append(
            fmt.make_fragment(item.file.file, filesystem, partition_expression=guarantee)
        )
        bounded.append(item.file.file)
    if not fragments:
        return set()
    fields = [schema.field(name) for name in schema.fixed_names]
    dataset = ds.FileSystemDataset(fragments, pa.schema(fields), fmt, filesystem)
    try:
        kept = {
            cast(ds.FileFragment, fragment).path
            for fragment in dataset.get_fragments(filter=condition)
        }
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return set()  # a condition on other columns: prune nothing here
    return {name for name in bounded if name not in kept}
