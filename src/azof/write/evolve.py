"""Schema evolution commits: ``table.evolve()...commit()``.

:class:`SchemaUpdate` collects changes (each builder method returns a new update, checked at
once against the table's schema) and :func:`commit_schema_changes` lands them as one
``evolve`` commit built on the latest snapshot. No data file is rewritten: readers find a
file's columns by id, so renamed, widened, added, dropped and moved columns read correctly
from files written under any older schema (``docs/spec.md``, "Schema evolution").

If another commit changed the schema meanwhile, the changes are checked again against the
new schema and committed on top of it, or refused with :class:`CommitConflictError` when
they no longer apply.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from azof.errors import CommitConflictError, InvalidArgumentError
from azof.format import CommitInfo, Snapshot, TableSchema
from azof.format.evolution import (
    AddColumn,
    DropColumn,
    MoveColumn,
    RenameColumn,
    ReorderColumns,
    SchemaChange,
    WidenColumn,
    apply_changes,
    change_to_json,
)
from azof.format.types import unit_nanos
from azof.scan.plan import PlannedFile, rank_files
from azof.scan.read import read_rows
from azof.storage import Storage
from azof.timestamps import MAX_INSTANT, MIN_INSTANT, Instant
from azof.write.commit import commit_snapshot, upgrade
from azof.write.properties import commit_properties

if TYPE_CHECKING:
    from azof.table import Table

__all__ = ["SchemaUpdate", "commit_schema_changes"]


def commit_schema_changes(
    storage: Storage,
    table: str,
    parent: Snapshot,
    changes: Sequence[SchemaChange],
    properties: Mapping[str, str] | None = None,
) -> Snapshot:
    """Commit ``changes`` as one ``evolve`` commit on top of the latest snapshot.

    Raises :class:`InvalidArgumentError` (nothing committed) when a change does not apply to
    ``parent``'s schema, and :class:`CommitConflictError` when another commit changed the
    schema meanwhile so that a change no longer applies.
    """
    changes = tuple(changes)
    target = apply_changes(parent.schema, changes, version=parent.version + 1, table=table)
    _check_stored_values(storage, table, parent, target, rank_files(parent))  # refuse now
    summary_changes = [change_to_json(change) for change in changes]
    checked = {f.file for f in parent.files()}

    def build(latest: Snapshot, version: int, when: Instant) -> Snapshot:
        try:
            schema = apply_changes(latest.schema, changes, version=version, table=table)
        except InvalidArgumentError as exc:
            raise CommitConflictError(
                f"{exc} (the schema was changed by version {latest.version} while this change "
                "was being committed; look at the new schema and evolve it again)"
            ) from None
        # files that landed meanwhile were written under the old types: check them too
        landed = [p for p in rank_files(latest) if p.file.file not in checked]
        _check_stored_values(storage, table, latest, schema, landed)
        checked.update(p.file.file for p in landed)
        info = CommitInfo(
            time=when,
            operation="evolve",
            txn=uuid.uuid4().hex,
            summary={"schema_id": schema.schema_id, "changes": summary_changes},
            properties=dict(properties or {}),
        )
        return replace(upgrade(latest, version, info, schema=schema), format_version=3)

    return commit_snapshot(storage, table, parent, build)


def _check_stored_values(
    storage: Storage,
    table: str,
    snapshot: Snapshot,
    target: TableSchema,
    files: Sequence[PlannedFile],
) -> None:
    """Refuse to widen a timestamp column to nanoseconds when ``files`` hold values outside
    what nanoseconds can hold (1677-09-21 to 2262-04-11): reads would fail on them. Reads
    only that column, a file at a time."""
    narrow = {c.id: c for c in snapshot.schema.columns if pa.types.is_timestamp(c.type)}
    widened = [
        (narrow[c.id], c)
        for c in target.columns
        if c.id in narrow and pa.types.is_timestamp(c.type) and unit_nanos(c.type) == 1
        and unit_nanos(narrow[c.id].type) > 1
    ]  # fmt: skip
    for old, new in widened:
        per_unit = unit_nanos(old.type)
        low, high = MIN_INSTANT // per_unit, MAX_INSTANT // per_unit
        for item in files:
            stored = read_rows(storage, table, snapshot, [item], [old.name]).column(old.name)
            bounds = pc.min_max(stored.cast(pa.int64()))
            least, greatest = bounds["min"].as_py(), bounds["max"].as_py()
            if least is not None and (least < low or greatest > high):
                raise InvalidArgumentError(
                    f"table {table!r}: cannot widen column {new.name!r} to {new.type}: data file "
                    f"{item.file.file} holds values outside what nanoseconds can hold "
                    "(1677-09-21 to 2262-04-11); widen it to microseconds instead"
                )


@dataclass(frozen=True)
class SchemaUpdate:
    """Schema changes to commit together: ``table.evolve().add_column(...)...commit()``.

    Every method returns a new update (this one is unchanged) after checking the change
    against the schema as changed so far, so a mistake is reported where it is made.
    :meth:`commit` lands them as one commit and returns its version.
    """

    table: Table
    snapshot: Snapshot = field(repr=False)
    """The snapshot the changes are checked against (the latest when ``evolve()`` ran)."""
    changes: tuple[SchemaChange, ...] = ()
    _preview: TableSchema | None = field(default=None, repr=False, compare=False)

    def _with(self, *changes: SchemaChange) -> SchemaUpdate:
        every = (*self.changes, *changes)
        version = self.snapshot.version + 1
        schema = apply_changes(self.snapshot.schema, every, version=version, table=self.table.name)
        return replace(self, changes=every, _preview=schema)

    def add_column(
        self,
        name: str,
        type: pa.DataType,
        *,
        nullable: bool = True,
        default: Any = None,
        before: str | None = None,
        after: str | None = None,
    ) -> SchemaUpdate:
        """Add a value column (at the end, or ``before``/``after`` another one).

        Rows written before read ``default`` (null when it is None); a non-nullable column
        needs a default. Appends that leave the column out write the default too, and so
        does a row dict (or ``put``) that lacks it; an explicit ``None`` writes null.
        """
        change = AddColumn(name, type, nullable, default)
        if before is None and after is None:
            return self._with(change)
        return self._with(change, MoveColumn(name, before, after))

    def drop_column(self, name: str) -> SchemaUpdate:
        """Remove a value column (its data stays in older versions; its id is not reused)."""
        return self._with(DropColumn(name))

    def rename_column(self, name: str, new_name: str) -> SchemaUpdate:
        """Rename a value column; no data is rewritten (files hold columns by id)."""
        return self._with(RenameColumn(name, new_name))

    def widen(self, name: str, type: pa.DataType) -> SchemaUpdate:
        """Change a column to a wider type (int32 -> int64, float32 -> float64, decimal
        precision up, timestamp unit finer...); stored values are cast when read."""
        return self._with(WidenColumn(name, type))

    def move_column(
        self, name: str, *, before: str | None = None, after: str | None = None
    ) -> SchemaUpdate:
        """Move a value column just before or just after another one."""
        return self._with(MoveColumn(name, before, after))

    def reorder(self, names: Sequence[str]) -> SchemaUpdate:
        """Put the value columns in this order (name each once)."""
        if isinstance(names, str):
            names = [names]
        return self._with(ReorderColumns(tuple(names)))

    @property
    def schema(self) -> pa.Schema:
        """The table's schema as it will be after these changes."""
        return (self._preview or self.snapshot.schema).to_arrow()

    def commit(self, *, properties: Mapping[str, str] | None = None) -> int:
        """Commit the changes as one version (built on the latest); returns the version.

        ``properties`` (strings to strings) are stored with the commit, as an append's."""
        properties = commit_properties(properties, self.table.name)
        if not self.changes:
            raise InvalidArgumentError(
                f"table {self.table.name!r}: there are no schema changes to commit; call "
                "add_column, drop_column, rename_column, widen, move_column or reorder first"
            )
        table = self.table
        landed = commit_schema_changes(
            table.storage, table.name, self.snapshot, self.changes, properties
        )
        table.refresh()  # the table now reads the new schema (or a later version)
        return landed.version
