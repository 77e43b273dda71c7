"""``azof compact`` (fold pending deltas into the segment tree), ``azof vacuum``,
``azof verify`` and ``azof restore``."""

from __future__ import annotations

import dataclasses
from typing import Any

import click

from azof.cli.options import (
    KNOWN_AT_OPTION,
    VERSION_OPTION,
    check_duration,
    check_one_snapshot,
    count_option,
    table_options,
)
from azof.cli.output import format_size
from azof.cli.progress import progress_bar
from azof.cli.results import Stopwatch, emit, plural, result_format_option
from azof.compact.policy import GRANULARITIES, CompactionPolicy
from azof.table import Table

__all__ = ["compact", "describe_policy", "restore", "vacuum", "verify"]


def describe_policy(policy: CompactionPolicy) -> str:
    """``segment=quarter levels=year,quarter max_deltas=8 ...`` (one line)."""
    return (
        f"segment={policy.segment} levels={','.join(policy.levels)} "
        f"max_deltas={policy.max_deltas} max_delta_rows={policy.max_delta_rows} "
        f"target_file_mb={policy.target_file_mb} auto={'true' if policy.auto else 'false'}"
    )


def _policy(table: Table, changes: dict[str, Any]) -> CompactionPolicy:
    """The table's policy with the options given on the command line."""
    given = {name: value for name, value in changes.items() if value is not None}
    if "levels" in given:
        levels = tuple(level.strip() for level in given["levels"].split(",") if level.strip())
        if not levels:
            raise click.BadParameter(
                "name at least one level, e.g. year,quarter", param_hint="'--levels'"
            )
        given["levels"] = levels
        given.setdefault("segment", levels[-1])
    elif "segment" in given:
        given["levels"] = ()  # the default levels of the new segment
    return dataclasses.replace(table.policy, **given)


@click.command(
    epilog="""\b
Examples:
  azof compact --path ./lake --table prices
  azof compact --path ./lake --table prices --segment month
  azof compact --path ./lake --table prices --levels year,quarter,month --max-deltas 16 \\
      --set-policy --auto

\b
Without options the table's stored policy is used (default: quarter segments under
years). --set-policy stores the resulting policy with the table (a commit) before
compacting; --auto (stored with it) makes every commit that leaves --max-deltas pending
deltas or --max-delta-rows pending rows compact the table.
"""
)
@table_options
@click.option(
    "--segment",
    type=click.Choice(GRANULARITIES),
    default=None,
    help="The leaf segments' granularity (calendar periods in UTC).",
)
@click.option(
    "--levels",
    metavar="A,B,...",
    default=None,
    help="The levels of the tree, coarse to fine, ending with the segment (e.g. "
    "year,quarter,month). Default: year, then the segment.",
)
@count_option(
    "--max-deltas", minimum=1, help="Pending delta files that make a compaction due (for --auto)."
)
@count_option(
    "--max-delta-rows",
    minimum=1,
    help="Pending delta rows that make a compaction due (for --auto).",
)
@count_option("--target-file-mb", minimum=1, help="The size data files are split at.")
@click.option("--set-policy", is_flag=True, help="Store the policy with the table, then compact.")
@click.option(
    "--auto/--no-auto",
    default=None,
    help="With --set-policy: compact automatically after commits that make it due.",
)
@result_format_option
def compact(
    table: Table,
    segment: str | None,
    levels: str | None,
    max_deltas: int | None,
    max_delta_rows: int | None,
    target_file_mb: int | None,
    set_policy: bool,
    auto: bool | None,
    output_format: str,
) -> None:
    """Fold a table's pending deltas into its segment tree.

    Every as-of answer is the same before and after; reads afterwards touch one base file
    plus the events after it. Prints the policy used and what was rewritten.
    """
    if auto is not None and not set_policy:
        raise click.UsageError("--auto/--no-auto is stored with the policy; add --set-policy")
    policy = _policy(
        table,
        {
            "segment": segment,
            "levels": levels,
            "max_deltas": max_deltas,
            "max_delta_rows": max_delta_rows,
            "target_file_mb": target_file_mb,
            "auto": auto,
        },
    )
    clock = Stopwatch()
    text = []
    policy_version = None
    if set_policy:
        policy_version = table.set_policy(policy)
        text.append(
            f"stored the policy of {table.name} (version {policy_version}): "
            f"{describe_policy(policy)}"
        )
    else:
        text.append(f"policy: {describe_policy(policy)}")
    with progress_bar(f"Compacting {table.name}") as update:
        stats = table.compact(policy, progress=update)
    if stats.version is None:
        text.append(f"nothing to compact: {table.name} has no pending deltas")
    else:
        text.append(
            f"compacted {table.name}: version {stats.version}; rewrote "
            f"{plural(stats.leaves_rewritten, 'segment')}, {stats.rows_written:,} rows in "
            f"{plural(stats.files_added, 'new file')}, "
            f"{plural(stats.files_removed, 'file')} dropped"
        )
    data = {
        "table": table.name,
        "version": stats.version,
        "policy": policy.to_json(),
        "policy_version": policy_version,
        "segments_rewritten": stats.leaves_rewritten,
        "rows": stats.rows_written,
        "files_added": stats.files_added,
        "files_removed": stats.files_removed,
        "seconds": clock.seconds,
    }
    emit(output_format, "compact", data, text)


@click.command(
    epilog="""\b
Examples:
  azof vacuum --path ./lake --table prices                       # unreferenced files only
  azof vacuum --path ./lake --table prices --retain-versions 10 --dry-run
  azof vacuum --path ./lake --table prices --older-than 7d --grace 2h

\b
A version is kept if it is among the last --retain-versions or younger than --older-than;
with neither, every version is kept and only files no version references go (those of
failed commits, or of versions expired earlier). Files younger than --grace are never
deleted, so commits in flight are safe. Durations: 30s, 15m, 12h, 7d, 2w, 1h30m,
ISO-8601 (P7D, PT90M) or plain seconds (90).
"""
)
@table_options
@count_option("--retain-versions", minimum=1, help="Keep the last N versions.")
@click.option(
    "--older-than",
    callback=check_duration,
    default=None,
    metavar="DURATION",
    help="Expire versions committed longer ago than this (e.g. 7d).",
)
@click.option(
    "--grace",
    callback=check_duration,
    default="1d",
    show_default=True,
    metavar="DURATION",
    help="Never delete files younger than this.",
)
@click.option("--dry-run", is_flag=True, help="List what would go; delete nothing.")
@result_format_option
def vacuum(
    table: Table,
    retain_versions: int | None,
    older_than: str | None,
    grace: str,
    dry_run: bool,
    output_format: str,
) -> None:
    """Expire old versions and delete the data files no retained version references.

    Prints one line per expired version and per deleted file, then a summary.
    """
    clock = Stopwatch()
    with progress_bar(f"Vacuuming {table.name}") as update:
        result = table.vacuum(
            retain_versions, older_than, grace=grace, dry_run=dry_run, progress=update
        )
    expire, delete = ("would expire", "would delete") if dry_run else ("expired", "deleted")
    text = [f"{expire} version {version}" for version in result.expired_versions]
    text += [f"{delete} {name}" for name in result.deleted_files]
    versions, files = len(result.expired_versions), len(result.deleted_files)
    text.append(
        f"{'dry run: ' if dry_run else ''}{table.name}: {expire} "
        f"{plural(versions, 'version')}, {delete} {plural(files, 'file')} "
        f"({format_size(result.bytes_freed)})"
    )
    data = {
        "table": table.name,
        "dry_run": dry_run,
        "expired_versions": result.expired_versions,
        "deleted_files": result.deleted_files,
        "bytes": result.bytes_freed,
        "seconds": clock.seconds,
    }
    emit(output_format, "vacuum", data, text)


@click.command(
    epilog="""\b
Examples:
  azof verify --path ./lake --table prices
  azof verify --path s3://bucket/lake --table prices --version 12
"""
)
@table_options
@VERSION_OPTION
@KNOWN_AT_OPTION
@result_format_option
def verify(table: Table, version: int | None, known_at: str | None, output_format: str) -> None:
    """Check every data file of a version (default: the latest), with its keys and times.

    Each file must exist, be readable Parquet and hold the columns the snapshot declares;
    its rows must have a key and event time inside the ranges and bucket its record says.
    Opening a table does not check its files (a read checks those it plans); this does, for
    all of them. Exits 1 naming the damaged files.
    """
    clock = Stopwatch()
    check_one_snapshot(version, known_at)
    snapshot = table.snapshot_at(version, known_at)
    checked = table.verify(snapshot.version)
    data = {
        "table": table.name,
        "version": snapshot.version,
        "files": checked,
        "bytes": sum(f.size or 0 for f in snapshot.files()),
        "ok": True,
        "seconds": clock.seconds,
    }
    text = [
        f"{table.name}: version {snapshot.version}: {plural(checked, 'data file')} present "
        "and readable"
    ]
    emit(output_format, "verify", data, text)


@click.command(
    epilog="""\b
Examples:
  azof restore --path ./lake --table prices --version 12
  azof restore --path ./lake --table prices --known-at 2024-03-01T09:00:00Z

\b
The restore is a new commit: the versions in between stay readable (azof scan --version)
until a vacuum expires them. It fails, committing nothing, if the restored version's data
files are gone or if another commit lands meanwhile.
"""
)
@table_options
@VERSION_OPTION
@KNOWN_AT_OPTION
@result_format_option
def restore(table: Table, version: int | None, known_at: str | None, output_format: str) -> None:
    """Make a table's state that of an earlier version again (a new commit)."""
    check_one_snapshot(version, known_at)
    if version is None and known_at is None:
        raise click.UsageError("name the version to restore: --version N or --known-at TIME")
    before = table.version
    target = table.snapshot_at(version, known_at).version
    landed = table.restore(target)
    if landed == before:
        text = f"{table.name}: nothing to restore: version {target} is the latest"
    else:
        text = f"{table.name}: restored version {target} as version {landed}"
    data = {
        "table": table.name,
        "restored_version": target,
        "version": landed,
        "committed": landed != before,
    }
    emit(output_format, "restore", data, [text])
