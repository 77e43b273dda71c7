"""The one JSON codec of snapshots, with the validity checks of ``docs/spec.md``.

``decode_snapshot`` turns bytes into a :class:`~azof.format.snapshot.Snapshot` or raises a
:class:`~azof.errors.CorruptTableError` naming the table, the file and what is wrong;
``encode_snapshot`` writes format version 2, 3 once the schema has evolved, or 4 for a
table with named or composite keys (:func:`required_format_version`).
"""

from __future__ import annotations

import json
import threading
from typing import Any, TypeVar

import pyarrow as pa

from azof.errors import UnsupportedFormatError
from azof.format.checks import (
    MAX_BUCKETS,
    MAX_NAME_CHARS,
    MAX_SEGMENT_DEPTH,
    MAX_TREE_LEVELS,
    MAX_WHOLE,
    key_bound,
    ordered,
    text_instant,
    validate_file_name,
    whole_number,
)
from azof.format.manifest import decode_refs, encode_refs
from azof.format.schema_codec import Context, decode_schema, encode_schema
from azof.format.snapshot import CommitInfo, DataFile, ManifestRef, Segment, Snapshot, thaw
from azof.timestamps import Instant, format_instant

__all__ = [
    "CURRENT_FORMAT_VERSION",
    "decode_commit_entry",
    "decode_snapshot",
    "encode_snapshot",
    "required_format_version",
    "validate_file_name",
]

CURRENT_FORMAT_VERSION = 5
"""The newest format version azof writes (5: file records in manifests, spec 19)."""
_KNOWN_VERSIONS = (1, 2, 3, 4, 5)


def _decode_file(raw: Any, ctx: Context, where: str, default_start: Instant | None) -> DataFile:
    if isinstance(raw, str):
        return DataFile(validate_file_name(raw, ctx.table, ctx.file), start=default_start)
    if not isinstance(raw, dict):
        raise ctx.error(f"{where} is not an object")
    if raw.get("file") is None:
        raise ctx.error(f"{where}: missing field 'file'")
    name = validate_file_name(raw["file"], ctx.table, ctx.file)
    start = text_instant(raw, "start", ctx, f"{where} ({name})", required=default_start is None)
    end = text_instant(raw, "end", ctx, f"{where} ({name})", required=False)
    if start is None:
        start = default_start
    if start is not None and end is not None and start > end:
        raise ctx.error(f"{where} ({name}): start {raw.get('start')} is after end {raw.get('end')}")
    ints = {}
    known = ("seq", "rows", "bytes", "bucket", "buckets", "tombstones")
    for key in (*known, "schema_id") if ctx.version >= 3 else known:
        value = raw.get(key)
        if value is not None:
            whole_number(value, ctx, f"{where} ({name})", key)
        ints[key] = value
    if (ints["buckets"] or 1) > MAX_BUCKETS:
        raise ctx.error(f"{where} ({name}): buckets {ints['buckets']} is above {MAX_BUCKETS}")
    if (ints["bucket"] or 0) >= (ints["buckets"] or 1):
        raise ctx.error(
            f"{where} ({name}): bucket {ints['bucket']} is not below buckets {ints['buckets'] or 1}"
        )
    if ints["rows"] is not None and (ints["tombstones"] or 0) > ints["rows"]:
        raise ctx.error(
            f"{where} ({name}): tombstones {ints['tombstones']} is above rows {ints['rows']}"
        )
    min_key = key_bound(raw.get("min_key"), ctx, f"{where} ({name})", "min_key")
    max_key = key_bound(raw.get("max_key"), ctx, f"{where} ({name})", "max_key")
    if min_key is not None and max_key is not None and not ordered(min_key, max_key):
        raise ctx.error(
            f"{where} ({name}): min_key {min_key!r} and max_key {max_key!r} are not keys of "
            "one type in order"
        )
    return DataFile(
        name,
        start=start,
        end=end,
        seq=ints["seq"] or 0,
        rows=ints["rows"],
        size=ints["bytes"],
        bucket=ints["bucket"] or 0,
        buckets=ints["buckets"] or 1,
        min_key=min_key,
        max_key=max_key,
        tombstones=ints["tombstones"] or 0,
        derived=raw.get("derived") is True,
        sorted=raw.get("sorted") is True,
        schema_id=ints.get("schema_id") or 0,
    )


def _decode_segment(
    raw: Any, ctx: Context, where: str, parent: Segment | None, depth: int = 1
) -> Segment:
    if not isinstance(raw, dict):
        raise ctx.error(f"{where} is not an object")
    if depth > MAX_SEGMENT_DEPTH:
        raise ctx.error(f"{where}: segments nest deeper than {MAX_SEGMENT_DEPTH} levels")
    seg_id = raw.get("id", where)
    if not isinstance(seg_id, str | int) or isinstance(seg_id, bool):
        raise ctx.error(f"{where}: id {seg_id!r} is not a string")
    seg_id = str(seg_id)
    if len(seg_id) > MAX_NAME_CHARS:
        raise ctx.error(f"{where}: id is longer than {MAX_NAME_CHARS} characters")
    where = f"segment {seg_id!r}"
    start = text_instant(raw, "start", ctx, where)
    end = text_instant(raw, "end", ctx, where, required=False)
    assert start is not None
    if end is not None and start > end:
        raise ctx.error(f"{where}: start {raw['start']} is after end {raw['end']}")
    if parent is not None and (
        start < parent.start or (parent.end is not None and (end is None or end > parent.end))
    ):
        raise ctx.error(
            f"{where} [{raw['start']}, {raw.get('end', 'open')}] lies outside its parent "
            f"segment {parent.id!r}"
        )
    refs: tuple[ManifestRef, ...] = ()
    if ctx.version >= 5 and raw.get("manifests") is not None:
        if raw.get("file") is not None or any(raw.get(k) for k in ("base", "delta", "tip")):
            raise ctx.error(f"{where}: files are both inline and in 'manifests'")
        refs = decode_refs(raw["manifests"], ctx, where)
    base: tuple[DataFile, ...] = ()
    if "file" in raw and raw["file"] is not None:
        base = (_decode_file(raw["file"], ctx, f"{where} base", start),)
    elif "base" in raw:
        if not isinstance(raw["base"], list):
            raise ctx.error(f"{where}: 'base' is not a list")
        base = tuple(_decode_file(b, ctx, f"{where} base", start) for b in raw["base"])
    deltas_raw = raw.get("delta", [])
    if not isinstance(deltas_raw, list):
        raise ctx.error(f"{where}: 'delta' is not a list")
    for item in deltas_raw:
        if not isinstance(item, dict):
            raise ctx.error(f"{where}: a delta is not an object with 'file' and 'start'")
    deltas = tuple(_decode_file(d, ctx, f"{where} delta", None) for d in deltas_raw)
    for delta in deltas:
        assert delta.start is not None
        if delta.start < start or (end is not None and (delta.end is None or delta.end > end)):
            raise ctx.error(
                f"{where}: delta {delta.file} [{format_instant(delta.start)}, "
                f"{format_instant(delta.end) if delta.end is not None else 'open'}] lies "
                "outside its segment"
            )
    node = Segment(seg_id, start, end, base, deltas)
    children_raw = raw.get("segments", [])
    if not isinstance(children_raw, list):
        raise ctx.error(f"{where}: 'segments' is not a list")
    children = tuple(
        _decode_segment(c, ctx, f"{where} child {i}", node, depth + 1)
        for i, c in enumerate(children_raw)
    )
    tip: tuple[DataFile, ...] = ()
    tip_from = None
    if refs:
        if raw.get("tip_from") is not None:
            tip_from = text_instant(raw, "tip_from", ctx, where)
            assert tip_from is not None
            if tip_from < start or (end is not None and tip_from > end) or children:
                raise ctx.error(f"{where}: tip_from lies outside the segment, or not on a leaf")
        return Segment(seg_id, start, end, (), (), children, (), tip_from, refs)
    if raw.get("tip") is not None:
        if not isinstance(raw["tip"], list) or children:
            raise ctx.error(f"{where}: 'tip' must be a list of files, on a leaf segment")
        tip = tuple(_decode_file(t, ctx, f"{where} tip", start) for t in raw["tip"])
        tip_from = text_instant(raw, "tip_from", ctx, where)
        assert tip_from is not None
        if tip_from < start or (end is not None and tip_from > end):
            raise ctx.error(f"{where}: tip_from {raw['tip_from']} lies outside the segment")
    return Segment(seg_id, start, end, base, deltas, children, tip, tip_from)


def _decode_commit(raw: Any, ctx: Context) -> CommitInfo | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ctx.error("field 'commit' is not an object")
    time = text_instant(raw, "time", ctx, "commit")
    assert time is not None
    summary = raw.get("summary", {})
    properties = raw.get("properties", {})
    if not isinstance(properties, dict):
        raise ctx.error("commit: 'properties' is not an object")
    counts = {}
    for name in ("added_rows", "added_files", "removed_files"):
        counts[name] = whole_number(raw.get(name, 0), ctx, "commit", name)
    return CommitInfo(
        time=time,
        operation=str(raw.get("operation", "")),
        txn=str(raw.get("txn", "")),
        added_rows=counts["added_rows"],
        added_files=counts["added_files"],
        removed_files=counts["removed_files"],
        summary=summary if isinstance(summary, dict) else {},
        properties={str(k): str(v) for k, v in properties.items()},
    )


def decode_commit_entry(
    data: bytes, *, table: str, file: str
) -> tuple[CommitInfo, int | None] | None:
    """The commit record and parent version of a snapshot file, without decoding its
    schema and files (for listing a log: files are checked when a version is read);
    ``None`` for a snapshot without a commit record (a seed), to be decoded whole."""
    ctx = Context(table, file)
    raw = _snapshot_object(data, ctx)
    commit = _decode_commit(raw.get("commit"), ctx)
    if commit is None:
        return None
    parent = raw.get("parent_version")
    return commit, _version_number(parent)


def _snapshot_object(data: bytes, ctx: Context) -> dict[str, Any]:
    """The snapshot's JSON object, its format version checked (and set on ``ctx``)."""
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ctx.error(f"not readable JSON ({exc})") from None
    except RecursionError:
        raise ctx.error("not readable JSON (nested too deeply)") from None
    if not isinstance(raw, dict):
        raise ctx.error("the snapshot is not a JSON object")
    format_version = raw.get("format_version", 1)
    if not isinstance(format_version, int) or isinstance(format_version, bool):
        raise ctx.error(f"format_version {format_version!r} is not a whole number")
    if format_version < 1:
        raise ctx.error(f"format_version {format_version} is not a version (1 or more)")
    if format_version not in _KNOWN_VERSIONS:
        raise UnsupportedFormatError(
            f"table {ctx.table!r}: {ctx.file}: format_version {format_version} is newer than "
            f"this azof reads (up to {max(_KNOWN_VERSIONS)}); upgrade azof"
        )
    ctx.version = format_version
    return raw


def decode_snapshot(data: bytes, *, table: str, file: str, version: int) -> Snapshot:
    """Parse and validate one snapshot file (``version`` is taken from its file name)."""
    ctx = Context(table, file)
    raw = _snapshot_object(data, ctx)
    format_version = ctx.version
    schema_version = format_version
    if format_version >= 5:  # the schema is in the form of the version it needs (19)
        schema_version = raw.get("schema_version", 4)
        if schema_version not in (2, 3, 4):
            raise ctx.error(f"schema_version {schema_version!r} is not 2, 3 or 4")
    schema = decode_schema(raw.get("schema"), schema_version, ctx)
    ctx.key_kinds = tuple(int if pa.types.is_integer(c.type) else str for c in schema.keys)
    segments_raw = raw.get("segments", [])
    if not isinstance(segments_raw, list):
        raise ctx.error("field 'segments' is not a list")
    if format_version == 1 and "segments" not in raw:
        raise ctx.error("missing field 'segments'")
    segments = _decode_segments(segments_raw, ctx)
    pending_raw = raw.get("deltas", [])
    if not isinstance(pending_raw, list):
        raise ctx.error("field 'deltas' is not a list")
    pending = tuple(_decode_file(d, ctx, "pending delta", None) for d in pending_raw)
    pending_refs: tuple[ManifestRef, ...] = ()
    if format_version >= 5 and raw.get("pending_manifests") is not None:
        pending_refs = decode_refs(raw["pending_manifests"], ctx, "pending deltas")
    if format_version >= 2 and raw.get("version", version) != version:
        raise ctx.error(f"it says version {raw.get('version')!r} but is named for {version}")
    parent = raw.get("parent_version")
    buckets = raw.get("buckets", 1)
    if not isinstance(buckets, int) or isinstance(buckets, bool) or buckets < 1:
        raise ctx.error(f"buckets {buckets!r} is not a whole number >= 1")
    if buckets > MAX_BUCKETS:
        raise ctx.error(f"buckets {buckets} is above {MAX_BUCKETS}")
    uuid = raw.get("table_uuid")
    policy = raw.get("policy", {})
    properties = raw.get("properties", {})
    return Snapshot(
        format_version=format_version,
        version=version,
        schema=schema,
        segments=segments,
        deltas=pending,
        parent_version=_version_number(parent),
        commit=_decode_commit(raw.get("commit"), ctx),
        table_uuid=uuid if isinstance(uuid, str) and len(uuid) <= MAX_NAME_CHARS else "",
        buckets=buckets,
        policy=policy if isinstance(policy, dict) else {},
        properties=properties if isinstance(properties, dict) else {},
        tree_levels=_decode_tree_levels(raw.get("tree"), ctx),
        pending_manifests=pending_refs,
    )


def _version_number(value: Any) -> int | None:
    """A ``parent_version`` as a version number, or ``None`` (a wrong one reads as absent)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_WHOLE:
        return value
    return None


def _decode_tree_levels(raw: Any, ctx: Context) -> tuple[str, ...]:
    if raw is None:
        return ()
    levels = raw.get("levels") if isinstance(raw, dict) else None
    if not isinstance(levels, list) or not all(isinstance(x, str) for x in levels):
        raise ctx.error("field 'tree' must be an object with 'levels', a list of names")
    if len(levels) > MAX_TREE_LEVELS or any(len(x) > MAX_NAME_CHARS for x in levels):
        raise ctx.error(f"tree: 'levels' holds more than {MAX_TREE_LEVELS} names, or a long one")
    return tuple(levels)


def _encode_file(f: DataFile) -> dict[str, Any]:
    out: dict[str, Any] = {"file": f.file}
    if f.start is not None:
        out["start"] = format_instant(f.start)
    if f.end is not None:
        out["end"] = format_instant(f.end)
    out["seq"] = f.seq
    if f.rows is not None:
        out["rows"] = f.rows
    if f.size is not None:
        out["bytes"] = f.size
    out["bucket"] = f.bucket
    if f.buckets != 1:
        out["buckets"] = f.buckets
    if f.min_key is not None:
        out["min_key"] = f.min_key
    if f.max_key is not None:
        out["max_key"] = f.max_key
    if f.tombstones:
        out["tombstones"] = f.tombstones
    if f.derived:
        out["derived"] = True
    if f.sorted:
        out["sorted"] = True
    if f.schema_id:
        out["schema_id"] = f.schema_id
    return out


def _encode_segment(s: Segment) -> dict[str, Any]:
    out: dict[str, Any] = {"id": s.id, "start": format_instant(s.start)}
    if s.end is not None:
        out["end"] = format_instant(s.end)
    if s.manifests:
        out["manifests"] = encode_refs(s.manifests)
        if s.tip_from is not None:
            out["tip_from"] = format_instant(s.tip_from)
    else:
        out["base"] = [_encode_file(f) for f in s.base]
        out["delta"] = [_encode_file(f) for f in s.deltas]
    if s.tip and not s.manifests:
        out["tip"] = [_encode_file(f) for f in s.tip]
        out["tip_from"] = format_instant(s.tip_from if s.tip_from is not None else s.start)
    if s.children:
        out["segments"] = [_encode_segment(c) for c in s.children]
    return out


def required_format_version(snapshot: Snapshot) -> int:
    """The version azof writes a snapshot in: 5 when it names manifests, 4 when its key or
    event time is named (not ``key``/``event_time``, or a composite key), 3 once its schema
    has evolved, else 2."""
    if snapshot.pending_manifests or any(s.manifests for s in snapshot.walk()):
        return 5
    return _schema_version(snapshot)


def _schema_version(snapshot: Snapshot) -> int:
    """The format version the snapshot's schema alone needs (its form in the JSON)."""
    if snapshot.schema.named:
        return 4
    return 3 if snapshot.schema.schema_id > 0 else 2


def encode_snapshot(snapshot: Snapshot) -> bytes:
    """The JSON of a snapshot in :func:`required_format_version` (a format-1 snapshot is
    upgraded on the way)."""
    version = required_format_version(snapshot)
    commit = snapshot.commit
    raw: dict[str, Any] = {
        "format_version": version,
        "table_uuid": snapshot.table_uuid,
        "version": snapshot.version,
        "parent_version": snapshot.parent_version,
    }
    if commit is not None:
        raw["commit"] = {
            "time": format_instant(commit.time),
            "operation": commit.operation,
            "txn": commit.txn,
            "added_rows": commit.added_rows,
            "added_files": commit.added_files,
            "removed_files": commit.removed_files,
            "summary": thaw(commit.summary),
            "properties": thaw(commit.properties),
        }
    if version >= 5:
        raw["schema_version"] = _schema_version(snapshot)
    raw["schema"] = encode_schema(snapshot.schema, _schema_version(snapshot))
    raw["buckets"] = snapshot.buckets
    raw["policy"] = thaw(snapshot.policy)
    raw["properties"] = thaw(snapshot.properties)
    if snapshot.tree_levels:
        raw["tree"] = {"levels": list(snapshot.tree_levels)}
    if snapshot.pending_manifests:
        raw["pending_manifests"] = encode_refs(snapshot.pending_manifests)
    raw["deltas"] = [_encode_file(f) for f in snapshot.inline_deltas]
    # One line, by json's C encoder (indented output takes its pure-Python path, several
    # times slower). The segments go in before the deltas, as the text their tree had the
    # last time: an append keeps its parent's tree, so a commit costs its pending deltas,
    # not every file of the tree.
    head = json.dumps(raw, ensure_ascii=False)
    cut = head.rindex(', "deltas": ')
    segments = _segments_text(snapshot.segments)
    return f'{head[:cut]}, "segments": {segments}{head[cut:]}'.encode()


_CACHE_LOCK = threading.Lock()
_TREES_HELD = 8
"""Trees each cache holds (a few tables, or a few versions of one, in use at once)."""
_K = TypeVar("_K")
_V = TypeVar("_V")
_DECODED_TREES: dict[tuple[str, int, str, str], tuple[Segment, ...]] = {}
"""(table, format version, key kind, the segments' JSON) -> the segments, for the last few trees
decoded: the snapshots of a table's appends share their tree."""


def _decode_segments(segments_raw: list[Any], ctx: Context) -> tuple[Segment, ...]:
    """The snapshot's segments, decoded and checked once per distinct tree (a commit that
    keeps its parent's tree does not make the next open decode it again)."""
    kinds = str(ctx.key_kinds)
    key = (ctx.table, ctx.version, kinds, json.dumps(segments_raw, ensure_ascii=False))
    found = _DECODED_TREES.get(key)
    if found is not None:
        return found
    segments = tuple(
        _decode_segment(s, ctx, f"segment {i}", None) for i, s in enumerate(segments_raw)
    )
    _hold(_DECODED_TREES, key, segments)
    return segments


_SEGMENT_TEXTS: dict[int, tuple[tuple[Segment, ...], str]] = {}
"""id(segments) -> (segments, their JSON), for the last few trees encoded (holding the
tuple keeps its id from being reused)."""


def _segments_text(segments: tuple[Segment, ...]) -> str:
    found = _SEGMENT_TEXTS.get(id(segments))
    if found is not None and found[0] is segments:
        return found[1]
    text = json.dumps([_encode_segment(s) for s in segments], ensure_ascii=False)
    _hold(_SEGMENT_TEXTS, id(segments), (segments, text))
    return text


def _hold(cache: dict[_K, _V], key: _K, value: _V) -> None:
    """Put ``value`` in one of the tree caches, dropping the oldest entry beyond
    ``_TREES_HELD``."""
    with _CACHE_LOCK:
        if len(cache) >= _TREES_HELD:
            cache.pop(next(iter(cache)), None)
        cache[key] = value
