"""Reading input files for ``azof write`` and ``azof create --like``: CSV, Parquet, JSON lines.

Files are streamed (``pyarrow.csv.open_csv``, ``ParquetFile.iter_batches``,
``pyarrow.json.open_json``), never loaded whole, and cut into tables of at most
``batch_rows`` rows. ``--key COL`` / ``--event-time COL`` rename a column to ``key`` /
``event_time``. Text in timestamp columns is read as an instant: ISO-8601 / RFC 3339, and
text without an offset is UTC. When the table is known its schema types the columns (CSV
and JSON are converted to the table's types while parsing); otherwise types are inferred
(:func:`infer_schema`).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.json as pjson
import pyarrow.parquet as pq

from azof.errors import AzofError, InvalidArgumentError, SchemaMismatchError
from azof.format.types import unit_nanos
from azof.timestamps import parse_instant

__all__ = [
    "FORMATS",
    "ColumnMapping",
    "InputFile",
    "arrow_error_text",
    "detect_format",
    "infer_schema",
    "text_to_timestamps",
    "timestamp_type",
]

FORMATS = ("csv", "parquet", "json")
_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
}
_BLOCK_BYTES = 4 << 20
_PARQUET_BATCH_ROWS = 65_536
_ZONED_PATTERN = r"\d{2}:\d{2}(:\d{2}([.,]\d+)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)\s*$"


def detect_format(path: Path, given: str | None) -> str:
    """``given``, else the format the suffix names (``.csv``, ``.parquet``, ``.jsonl``...)."""
    if given is not None:
        return given
    found = _SUFFIXES.get(path.suffix.lower())
    if found is None:
        raise InvalidArgumentError(
            f"{path}: cannot tell the format from the suffix {path.suffix or '(none)'!r}; "
            "name it with --input-format csv|parquet|json"
        )
    return found


@dataclass(frozen=True)
class ColumnMapping:
    """Which input columns become the table's key and event-time columns (``None``:
    already so named); ``key_target``/``time_target``: the table's names of them."""

    key: str | None = None
    event_time: str | None = None
    key_target: str = "key"
    time_target: str = "event_time"

    def renames(self) -> dict[str, str]:
        """Input name -> table name."""
        out: dict[str, str] = {}
        if self.key is not None:
            out[self.key] = self.key_target
        if self.event_time is not None:
            out[self.event_time] = self.time_target
        return out

    def source(self, name: str) -> str:
        """The input column that holds the table's column ``name``."""
        for source, target in self.renames().items():
            if target == name:
                return source
        return name

    def apply(self, names: Sequence[str], where: str) -> list[str]:
        """The names after renaming; the mapped columns must exist and not collide."""
        renames = self.renames()
        for source, target in renames.items():
            option = "--key" if target == self.key_target else "--event-time"
            if source not in names:
                raise InvalidArgumentError(
                    f"{where}: no column {source!r} (given with {option}); its columns are "
                    f"{', '.join(names)}"
                )
            if target in names and source != target:
                raise InvalidArgumentError(
                    f"{where}: has both {target!r} and {source!r} (given with {option}); "
                    "drop one of them or map another column"
                )
        return [renames.get(name, name) for name in names]


# -- timestamps ----------------------------------------------------------------------------


def timestamp_type(unit: str, tz: str | None = None) -> pa.DataType:
    """``pa.timestamp`` for a unit known only at run time."""
    dtype: pa.DataType = pa.timestamp(cast(Any, unit), tz=cast(Any, tz))
    return dtype


def _finest_unit(instants: pa.ChunkedArray[Any] | pa.Array[Any]) -> str:
    """The coarsest of ms/us/ns that holds every instant (nanoseconds since the epoch)."""
    values = [v for v in instants.cast(pa.int64()).to_pylist() if v is not None]
    if all(v % 1_000_000 == 0 for v in values):
        return "ms"
    if all(v % 1_000 == 0 for v in values):
        return "us"
    return "ns"


def text_to_timestamps(
    column: pa.ChunkedArray[Any] | pa.Array[Any], unit: str, what: str
) -> pa.ChunkedArray[Any] | pa.Array[Any]:
    """ISO-8601 text -> ``timestamp[unit, UTC]``; text without an offset is UTC.

    Vectorised when Arrow reads every value; otherwise each value is read with azof's own
    parser, so that a bad value is named (``what`` says where it is).
    """
    text = column.cast(pa.string())
    zoned = pc.match_substring_regex(text, _ZONED_PATTERN)
    none = pa.scalar(None, pa.string())
    target = timestamp_type(unit, "UTC")
    try:
        with_zone = pc.if_else(zoned, text, none).cast(target)
        without = pc.if_else(zoned, none, text).cast(timestamp_type(unit)).cast(target)
        result: pa.ChunkedArray[Any] | pa.Array[Any] = pc.coalesce(with_zone, without)
        return result
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    instants = [None if v is None else parse_instant(v, what) for v in text.to_pylist()]
    per_unit = unit_nanos(target)
    if all(v is None or v % per_unit == 0 for v in instants):
        return pa.array([None if v is None else v // per_unit for v in instants], target)
    try:
        return pa.array(instants, pa.timestamp("ns", tz="UTC"))  # conform refuses the loss
    except (OverflowError, pa.ArrowInvalid) as exc:
        raise InvalidArgumentError(f"{what}: timestamps out of range ({exc})") from None


def _typed_timestamps(
    column: pa.ChunkedArray[Any] | pa.Array[Any], target: pa.DataType, what: str
) -> pa.ChunkedArray[Any] | pa.Array[Any]:
    """Text or dates in a timestamp column of the table, as timestamps (UTC)."""
    unit = cast(pa.TimestampType, target).unit
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return text_to_timestamps(column, unit, what)
    if pa.types.is_date(column.type):
        return column.cast(timestamp_type(unit)).cast(timestamp_type(unit, "UTC"))
    return column


def arrow_error_text(exc: pa.ArrowException, csv_names: Sequence[str] = ()) -> str:
    """The first line of an Arrow error; a CSV column number is replaced by its name."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    match = re.match(r"In CSV column #(\d+): (.*)", message)
    if match and int(match[1]) < len(csv_names):
        return f"column {csv_names[int(match[1])]!r}: {match[2]}"
    return message


# -- reading -------------------------------------------------------------------------------


def _text_type(dtype: pa.DataType) -> pa.DataType:
    """The type to read a table column as from CSV or JSON (timestamps as text, then parsed)."""
    return pa.string() if pa.types.is_timestamp(dtype) else dtype


def _csv_parse_options(path: Path) -> pcsv.ParseOptions:
    return pcsv.ParseOptions(delimiter="\t" if path.suffix.lower() == ".tsv" else ",")


def _csv_header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8", errors="replace") as stream:
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
        return next(csv.reader(stream, delimiter=delimiter), [])


def _json_fields(path: Path) -> list[str]:
    """The fields of the first object of a JSON-lines file (to type only those)."""
    with path.open("rb") as stream:
        for line in stream:
            if line.strip():
                try:
                    first = json.loads(line)
                except ValueError:
                    return []
                return list(first) if isinstance(first, dict) else []
    return []


class InputFile:
    """One input file, read as a stream of batches typed by ``target`` (when known).

    ``position`` is how many bytes of the file have been consumed, for progress bars.
    """

    def __init__(
        self,
        path: Path,
        file_format: str,
        mapping: ColumnMapping,
        target: pa.Schema | None = None,
        *,
        header: bool = True,
    ) -> None:
        self.path = path
        self.format = file_format
        self.mapping = mapping
        self.target = target
        self.header = header
        self.size = path.stat().st_size
        self.position = 0.0

    # -- raw batches ---------------------------------------------------------------------

    def _source_types(self) -> dict[str, pa.DataType]:
        if self.target is None:
            return {}
        return {self.mapping.source(f.name): _text_type(f.type) for f in self.target}

    def _csv_batches(self, stream: IO[bytes]) -> Iterator[pa.RecordBatch]:
        names = None
        if not self.header:
            if self.target is None:
                raise InvalidArgumentError(
                    f"{self.path}: a CSV without a header needs an existing table (its columns "
                    "in order name the fields)"
                )
            names = self.target.names
        reader = pcsv.open_csv(
            stream,
            read_options=pcsv.ReadOptions(block_size=_BLOCK_BYTES, column_names=names),
            parse_options=_csv_parse_options(self.path),
            convert_options=pcsv.ConvertOptions(
                column_types=self._source_types(),
                null_values=[""],  # only an empty field is null, not Arrow's "NA", "NULL"...
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
        with reader:  # closed (its reading threads joined) however the loop ends
            for batch in reader:
                self.position = stream.tell()
                yield batch

    def _json_batches(self, stream: IO[bytes]) -> Iterator[pa.RecordBatch]:
        present = set(_json_fields(self.path))
        types = self._source_types()
        explicit = pa.schema([(name, t) for name, t in types.items() if name in present])
        reader = pjson.open_json(
            stream,
            read_options=pjson.ReadOptions(block_size=_BLOCK_BYTES),
            parse_options=pjson.ParseOptions(
                explicit_schema=explicit if len(explicit) else None,
                unexpected_field_behavior="infer",
            ),
        )
        with reader:
            for batch in reader:
                self.position = stream.tell()
                yield batch

    def _parquet_batches(self) -> Iterator[pa.RecordBatch]:
        parquet = pq.ParquetFile(self.path)
        total = max(parquet.metadata.num_rows, 1)
        done = 0
        for batch in parquet.iter_batches(batch_size=_PARQUET_BATCH_ROWS):
            done += batch.num_rows
            self.position = self.size * done / total
            yield batch

    def _raw_batches(self) -> Generator[pa.RecordBatch, None, None]:
        if self.format == "parquet":
            yield from self._parquet_batches()
            return
        with self.path.open("rb") as stream:
            if self.format == "csv":
                yield from self._csv_batches(stream)
            else:
                yield from self._json_batches(stream)

    # -- typed tables --------------------------------------------------------------------

    def _prepare(self, table: pa.Table) -> pa.Table:
        """Rename the mapped columns; timestamp columns of the table from text or dates."""
        table = table.rename_columns(self.mapping.apply(table.column_names, str(self.path)))
        if self.target is None:
            return table
        for index, name in enumerate(table.column_names):
            if name not in self.target.names:
                continue
            dtype = self.target.field(name).type
            if pa.types.is_timestamp(dtype):
                what = f"{self.path}: column {self.mapping.source(name)!r}"
                column = _typed_timestamps(table.column(index), dtype, what)
                table = table.set_column(index, name, column)
        return table

    def tables(self, batch_rows: int) -> Iterator[pa.Table]:
        """The file as tables of at most ``batch_rows`` rows, renamed and typed."""
        pending: list[pa.RecordBatch] = []
        count = 0
        try:
            for batch in self._raw_batches():
                if batch.num_rows == 0:
                    continue
                pending.append(batch)
                count += batch.num_rows
                while count >= batch_rows:
                    whole = pa.Table.from_batches(pending)
                    yield self._prepare(whole.slice(0, batch_rows))
                    rest = whole.slice(batch_rows)
                    pending, count = rest.to_batches(), rest.num_rows
            if count:
                yield self._prepare(pa.Table.from_batches(pending))
        except pa.ArrowException as exc:
            raise self._read_error(exc) from exc

    def _read_error(self, exc: pa.ArrowException) -> AzofError:
        """An Arrow parse failure as an error naming the file (and the column for CSV)."""
        names: Sequence[str] = ()
        if self.format == "csv":
            names = self.target.names if not self.header and self.target else _csv_header(self.path)
        return SchemaMismatchError(f"{self.path}: {arrow_error_text(exc, names)}")

    # -- schema --------------------------------------------------------------------------

    def infer_schema(self) -> pa.Schema:
        """The schema of a new table for this file (see :func:`infer_schema`)."""
        batches = self._raw_batches()
        try:
            first = next(batches, None)
            schema = pq.read_schema(self.path) if self.format == "parquet" else None
        except pa.ArrowException as exc:
            raise self._read_error(exc) from exc
        finally:
            batches.close()
        if schema is None:
            if first is None:
                raise InvalidArgumentError(f"{self.path}: empty; cannot infer a schema from it")
            schema = first.schema
        names = self.mapping.apply(schema.names, str(self.path))
        targets = ((self.mapping.key_target, "--key"), (self.mapping.time_target, "--event-time"))
        for required, option in targets:
            if required not in names:
                raise InvalidArgumentError(
                    f"{self.path} has no {required!r} column (its columns are "
                    f"{', '.join(schema.names)}); name the column to use with {option} COL"
                )
        sample = first.rename_columns(names) if first is not None else None
        fields = []
        for field, name in zip(schema, names, strict=True):
            column = sample.column(name) if sample is not None else None
            fields.append(pa.field(name, self._new_type(name, field.type, column)))
        return pa.schema(fields)

    def _new_type(self, name: str, dtype: pa.DataType, sample: pa.Array[Any] | None) -> pa.DataType:
        """The column type of a new table: text and naive timestamps as UTC, seconds as ms."""
        if pa.types.is_dictionary(dtype):
            dtype = dtype.value_type
        if pa.types.is_null(dtype):
            return pa.string()
        text = pa.types.is_string(dtype) or pa.types.is_large_string(dtype)
        time = self.mapping.time_target
        if name == time and (text or pa.types.is_date(dtype)):
            unit = "ms"
            if text and sample is not None:
                what = f"{self.path}: column {self.mapping.source(name)!r}"
                unit = _finest_unit(text_to_timestamps(sample, "ns", what))
            return timestamp_type(unit, "UTC")
        if pa.types.is_timestamp(dtype):
            tz = dtype.tz
            if self.format != "parquet" or name == time:
                tz = "UTC"  # text without an offset is UTC
            unit = dtype.unit
            if self.format != "parquet" and sample is not None:
                unit = _finest_unit(sample.cast(timestamp_type("ns", dtype.tz)))
            return timestamp_type("ms" if unit == "s" else unit, tz)
        return dtype


def infer_schema(path: Path, file_format: str, mapping: ColumnMapping) -> pa.Schema:
    """A table schema for ``path``: its columns (``--key``/``--event-time`` renamed), types
    as Arrow infers them from the first block (Parquet: the file's), timestamps in UTC with
    the coarsest unit of ms/us/ns that holds the sampled values."""
    return InputFile(path, file_format, mapping).infer_schema()
