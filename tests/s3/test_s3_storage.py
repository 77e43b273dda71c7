"""azof's storage seam against a real S3 server (SeaweedFS, started by conftest.py).

Covers every Storage operation, the create-if-absent put that commits rely on (including
races between threads and between processes), path prefixes, option handling, and the seed
tables read from S3 giving the same answers as from the local folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

import azof
from azof.errors import InvalidArgumentError, StorageError
from azof.storage import ObjectInfo, ReadCounter, Storage, open_storage
from azof.storage.arrowfs import StorageHandler

HERE = Path(__file__).resolve().parent
SEED = Path(__file__).resolve().parents[3] / "shared" / "seed-tables"
SEED_AS_OF = "2024-02-17T00:00:00Z"

SCHEMA = pa.schema(
    [
        pa.field("key", pa.string()),
        pa.field("event_time", pa.timestamp("us", tz="UTC")),
        pa.field("v", pa.int64()),
    ]
)

# A key with characters that need care in S3 URLs and signatures.
AWKWARD = "odd names/a b=c/é+%&;,!'()*~@$.txt"


@pytest.fixture
def storage(s3_lake: str, s3_storage_options: dict[str, Any]) -> Storage:
    return open_storage(s3_lake, s3_storage_options)


def parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, row_group_size=100)
    return bytes(sink.getvalue().to_pybytes())


def paths(objects: list[ObjectInfo]) -> list[str]:
    return sorted(o.path for o in objects)


# -- plain operations ----------------------------------------------------------------------


def test_write_read_info_exists(storage: Storage) -> None:
    before = datetime.now(UTC) - timedelta(minutes=5)
    storage.write("t/a.bin", b"hello world")
    assert storage.read("t/a.bin") == b"hello world"
    assert storage.exists("t/a.bin")
    info = storage.info("t/a.bin")
    assert (info.path, info.size) == ("t/a.bin", 11)
    assert info.last_modified.tzinfo is not None
    assert before <= info.last_modified <= datetime.now(UTC) + timedelta(minutes=5)

    storage.write("t/a.bin", b"replaced")  # a plain write overwrites
    assert storage.read("t/a.bin") == b"replaced"
    assert storage.info("t/a.bin").size == 8

    storage.write("t/empty", b"")
    assert storage.read("t/empty") == b""
    assert storage.info("t/empty").size == 0

    # Paths are normalised the same way as everywhere else.
    assert storage.read("/t//./a.bin") == b"replaced"
    with pytest.raises(InvalidArgumentError):
        storage.read("t/../../escape")


def test_missing_objects(storage: Storage) -> None:
    assert not storage.exists("nope")
    with pytest.raises(FileNotFoundError):
        storage.read("nope")
    with pytest.raises(FileNotFoundError):
        storage.read_range("nope", 0, 4)
    with pytest.raises(FileNotFoundError):
        storage.info("nope")
    with pytest.raises(FileNotFoundError):
        storage.open_input("nope")
    storage.delete("nope")  # deleting what is not there is fine
    assert storage.list("nope") == []
    assert storage.list("nope", recursive=False) == []
    assert storage.list_dirs("nope") == []
    assert storage.list() == []  # a fresh lakehouse prefix is empty


def test_read_range(storage: Storage) -> None:
    data = bytes(range(256)) * 40
    storage.write("r.bin", data)
    assert storage.read_range("r.bin", 0, 10) == data[:10]
    assert storage.read_range("r.bin", 1000, 1234) == data[1000:1234]
    assert storage.read_range("r.bin", len(data) - 5, len(data)) == data[-5:]
    assert storage.read_range("r.bin", 5, 5) == b""
    with pytest.raises(InvalidArgumentError):
        storage.read_range("r.bin", 10, 5)


def test_awkward_key(storage: Storage) -> None:
    storage.write(AWKWARD, b"x")
    assert storage.read(AWKWARD) == b"x"
    assert storage.exists(AWKWARD)
    assert paths(storage.list("odd names")) == [AWKWARD]
    assert storage.list_dirs("odd names") == ["a b=c"]
    storage.delete(AWKWARD)
    assert not storage.exists(AWKWARD)


def test_list_and_list_dirs(storage: Storage) -> None:
    for name in ["top.txt", "t1/a", "t1/b", "t1/sub/c", "t2/d", "t10/e"]:
        storage.write(name, name.encode())
    assert paths(storage.list()) == ["t1/a", "t1/b", "t1/sub/c", "t10/e", "t2/d", "top.txt"]
    assert paths(storage.list("", recursive=False)) == ["top.txt"]
    assert paths(storage.list("t1")) == ["t1/a", "t1/b", "t1/sub/c"]  # not t10/
    assert paths(storage.list("t1/", recursive=False)) == ["t1/a", "t1/b"]
    assert storage.list_dirs() == ["t1", "t10", "t2"]
    assert storage.list_dirs("t1") == ["sub"]
    assert storage.list_dirs("t2") == []
    sizes = {o.path: o.size for o in storage.list()}
    assert sizes["t1/sub/c"] == len(b"t1/sub/c")
    assert not storage.exists("t1")  # a 'folder' is only a prefix


def test_listing_pages_past_1000_objects(storage: Storage) -> None:
    """S3 lists at most 1000 keys per request: every listing must follow the pages."""
    names = [f"v/{i:05d}.json" for i in range(1100)] + [f"d/{i:05d}/x" for i in range(1100)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda name: storage.write(name, b"."), names))
    assert len(storage.list("v")) == 1100
    assert len(storage.list("v", recursive=False)) == 1100
    assert storage.list_dirs("d") == [f"{i:05d}" for i in range(1100)]


def test_delete(storage: Storage) -> None:
    storage.write("x/a", b"1")
    storage.write("x/b", b"2")
    storage.delete("x/a")
    assert not storage.exists("x/a")
    assert paths(storage.list("x")) == ["x/b"]
    storage.delete("x/a")


def test_child(storage: Storage) -> None:
    table = storage.child("orders")
    assert table.uri == storage.uri + "/orders"
    table.write("_log/0.json", b"{}")
    assert storage.read("orders/_log/0.json") == b"{}"
    assert paths(table.list()) == ["_log/0.json"]
    assert table.list_dirs() == ["_log"]
    assert table.child("_log").read("0.json") == b"{}"
    assert not table.is_local


def test_large_objects(storage: Storage) -> None:
    """Above obstore's 5 MB chunk size a plain put goes multipart; both must round-trip."""
    big = bytes(range(256)) * (7 * 4096)  # 7 MiB
    storage.write("big.bin", big)
    assert storage.info("big.bin").size == len(big)
    assert storage.read("big.bin") == big
    assert storage.read_range("big.bin", 6_000_000, 6_000_100) == big[6_000_000:6_000_100]


def test_parquet_through_open_input_and_arrow_filesystem(storage: Storage) -> None:
    table = pa.table({"key": [str(i) for i in range(1000)], "value": list(range(1000))})
    storage.write("t/data.parquet", parquet_bytes(table))

    with storage.open_input("t/data.parquet") as file:
        assert file.size() == storage.info("t/data.parquet").size
        assert pq.read_table(file).equals(table)

    # the native filesystem (S3FileSystem) and the obstore bridge read alike; only the
    # bridge passes through Python, so only it counts
    counter = ReadCounter()
    native = storage.arrow_filesystem(counter)
    bridge = pafs.PyFileSystem(StorageHandler(storage, counter))
    assert storage.native_reads
    for filesystem in (native, bridge):
        assert pq.read_table("t/data.parquet", filesystem=filesystem).equals(table)
        pruned = pq.read_table(
            "t/data.parquet",
            filesystem=filesystem,
            columns=["value"],
            filters=[("value", ">", 950)],
        )
        assert pruned.column("value").to_pylist() == list(range(951, 1000))
        if filesystem is native:
            assert (counter.files_opened, counter.bytes_read) == (0, 0)
    assert counter.files_opened >= 1
    assert counter.bytes_read > 0


# -- create-if-absent: the commit primitive ------------------------------------------------


def test_write_if_absent_once(storage: Storage) -> None:
    assert storage.write_if_absent("_log/1.json", b"first") is True
    assert storage.write_if_absent("_log/1.json", b"second") is False
    assert storage.read("_log/1.json") == b"first"
    storage.write("_log/2.json", b"plain")
    assert storage.write_if_absent("_log/2.json", b"late") is False
    assert storage.read("_log/2.json") == b"plain"


def test_write_if_absent_large_payload(storage: Storage) -> None:
    """A create-if-absent put must never go multipart (SeaweedFS, like obstore's multipart
    path, does not honour the precondition there)."""
    big = b"a" * (6 * 1024 * 1024)
    assert storage.write_if_absent("big.json", big) is True
    assert storage.write_if_absent("big.json", b"b" * (6 * 1024 * 1024)) is False
    assert storage.read("big.json") == big


def test_write_if_absent_thread_race(s3_lake: str, s3_storage_options: dict[str, Any]) -> None:
    """Writers with their own clients race on one key per round: exactly one wins.

    (SeaweedFS serialises conditional puts of one key with a lock that waiters poll about
    once a second, so each round takes a few seconds.)
    """
    writers, rounds = 8, 3
    stores = [open_storage(s3_lake, s3_storage_options) for _ in range(writers)]
    for store in stores:  # open the connections before racing
        assert not store.exists("warm-up")
    barrier = threading.Barrier(writers)

    def attempt(writer: int, key: str) -> bool:
        barrier.wait(timeout=30)
        return stores[writer].write_if_absent(key, f"writer {writer}".encode() * 100)

    with ThreadPoolExecutor(writers) as pool:
        for round_ in range(rounds):
            key = f"_log/{round_}.json"
            results = list(pool.map(attempt, range(writers), [key] * writers))
            assert results.count(True) == 1, f"round {round_}: {results}"
            winner = results.index(True)
            assert stores[0].read(key) == f"writer {winner}".encode() * 100


RACER = """
import json, sys
sys.path.insert(0, sys.argv[1])
from conftest import s3_server_from_env  # the running server, from the environment
from azof.storage import open_storage

server = s3_server_from_env()
storage = open_storage(server.uri(sys.argv[2]), server.storage_options())
storage.exists("warm-up")
print("ready", flush=True)
sys.stdin.readline()
won = [storage.write_if_absent(f"_log/{i}.json", sys.argv[3].encode()) for i in range(3)]
print(json.dumps(won), flush=True)
"""


def test_write_if_absent_process_race(s3_server: Any, s3_lake: str) -> None:
    """The same race between processes (as concurrent committers are)."""
    prefix = s3_lake.removeprefix(s3_server.uri()).strip("/")
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(HERE), prefix, f"process {n}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(5)
    ]
    outputs: list[tuple[str, str]] = []
    try:
        for racer in racers:
            assert racer.stdout is not None
            line = racer.stdout.readline()
            if line.strip() != "ready":
                _, err = racer.communicate(timeout=30)
                pytest.fail(f"a racer did not start: {line!r}\n{err}")
        for racer in racers:
            assert racer.stdin is not None
            racer.stdin.write("go\n")
            racer.stdin.flush()
        for racer in racers:
            out, err = racer.communicate(timeout=60)
            assert racer.returncode == 0, err
            outputs.append((out, err))
    finally:
        for racer in racers:
            if racer.poll() is None:
                racer.kill()
                racer.communicate()
    won = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    storage = open_storage(s3_lake, s3_server.storage_options())
    for i in range(3):
        winners = [n for n, results in enumerate(won) if results[i]]
        assert len(winners) == 1, f"key {i}: winners {winners}"
        assert storage.read(f"_log/{i}.json") == f"process {winners[0]}".encode()


# -- prefixes, options ---------------------------------------------------------------------


def test_uri_prefix_keeps_everything_below_it(s3_server: Any) -> None:
    base = uuid.uuid4().hex
    options = s3_server.storage_options()
    lake = open_storage(s3_server.uri(f"{base}/lake"), options)
    sibling = open_storage(s3_server.uri(f"{base}/lake2"), options)
    lake.write("a.txt", b"a")
    lake.child("t").write("b.txt", b"b")
    assert lake.write_if_absent("t/_log/0.json", b"{}")
    sibling.write("a.txt", b"other")
    azof.Lakehouse(s3_server.uri(f"{base}/lake"), storage_options=options).create_table(
        "events",
        SCHEMA,
    )

    root = open_storage(s3_server.uri(), options)
    under_lake = paths(root.list(f"{base}/lake"))
    assert under_lake, "nothing was written"
    assert all(p.startswith(f"{base}/lake/") for p in under_lake), under_lake
    assert f"{base}/lake/a.txt" in under_lake
    assert f"{base}/lake/t/b.txt" in under_lake
    assert any(p.startswith(f"{base}/lake/events/") for p in under_lake)
    assert paths(root.list(base)) == sorted([*under_lake, f"{base}/lake2/a.txt"])
    assert root.list_dirs(base) == ["lake", "lake2"]

    # Each view sees only its own prefix; a trailing slash changes nothing.
    assert lake.read("a.txt") == b"a"
    assert sibling.read("a.txt") == b"other"
    assert paths(sibling.list()) == ["a.txt"]
    assert lake.list_dirs() == ["events", "t"]
    slash = open_storage(s3_server.uri(f"{base}/lake") + "/", options)
    assert paths(slash.list()) == paths(lake.list())
    assert open_storage(s3_server.uri(f"{base}/la"), options).list() == []


def test_storage_options_variants(s3_server: Any, s3_lake: str) -> None:
    options = s3_server.storage_options()
    open_storage(s3_lake, options).write("a", b"a")
    variants = [
        {**options, "allow_http": "true"},  # strings from a config file
        {
            "aws_endpoint": options["endpoint"],
            "aws_region": options["region"],
            "aws_access_key_id": options["access_key_id"],
            "aws_secret_access_key": options["secret_access_key"],
            "aws_allow_http": "true",
        },
        {k.upper(): v for k, v in options.items()},
        {**options, "timeout": "30s", "connect_timeout": "5s"},  # client options
        {
            **{k: v for k, v in options.items() if k != "allow_http"},
            "client_options": {"allow_http": True},
        },
    ]
    for variant in variants:
        assert open_storage(s3_lake, variant).read("a") == b"a", variant


def test_plain_http_needs_allow_http(s3_server: Any, s3_lake: str) -> None:
    options = s3_server.storage_options()
    del options["allow_http"]
    with pytest.raises((StorageError, InvalidArgumentError)):
        open_storage(s3_lake, options).read("a")


def test_wrong_credentials_are_refused(s3_server: Any, s3_lake: str) -> None:
    """The server checks signatures, so dropped or garbled credentials cannot pass."""
    options = {**s3_server.storage_options(), "secret_access_key": "not-the-secret"}
    storage = open_storage(s3_lake, options)
    with pytest.raises(StorageError):
        storage.write("a", b"a")
    with pytest.raises(StorageError):
        storage.list()


def test_unknown_option_is_an_invalid_argument(s3_server: Any, s3_lake: str) -> None:
    with pytest.raises(InvalidArgumentError):
        open_storage(s3_lake, {**s3_server.storage_options(), "no_such_option": "1"})


# -- lakehouses on S3 ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_on_s3(s3_server: Any) -> str:
    """The seed tables copied up to a fresh prefix (once per module), as a lakehouse URI."""
    if not SEED.is_dir():
        message = f"the seed tables are missing; expected them at {SEED}"
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    uri = s3_server.uri(f"{uuid.uuid4().hex}/seed")
    storage = open_storage(uri, s3_server.storage_options())
    files = [p for p in sorted(SEED.rglob("*")) if p.is_file()]
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(lambda p: storage.write(p.relative_to(SEED).as_posix(), p.read_bytes()), files)
        )
    assert len(storage.list()) == len(files)
    return str(uri)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by([("key", "ascending"), ("event_time", "ascending")])


def test_seed_tables_from_s3_match_local(s3_server: Any, seed_on_s3: str) -> None:
    remote = azof.Lakehouse(seed_on_s3, storage_options=s3_server.storage_options())
    local = azof.Lakehouse(SEED)
    assert remote.tables() == local.tables()
    assert set(local.tables()) >= {"financials", "table0", "table1", "table2"}
    for name in local.tables():
        here, there = local.table(name), remote.table(name)
        assert there.version == here.version
        assert there.versions() == here.versions()
        assert there.schema == here.schema
        for as_of in (None, SEED_AS_OF):
            expected, actual = here.scan(as_of=as_of), there.scan(as_of=as_of)
            assert actual.schema == expected.schema, (name, as_of)
            assert _sorted(actual).equals(_sorted(expected)), (name, as_of)


def test_write_and_read_a_table_on_s3(s3_lake: str, s3_storage_options: dict[str, Any]) -> None:
    lake = azof.Lakehouse(s3_lake, storage_options=s3_storage_options)
    table = lake.create_table("events", SCHEMA)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    table.append({"key": ["a", "b"], "event_time": [t0, t0], "v": [1, 2]})
    table.append({"key": ["a"], "event_time": [t0 + timedelta(days=1)], "v": [10]})
    assert lake.tables() == ["events"]
    reopened = azof.Lakehouse(s3_lake, storage_options=s3_storage_options).table("events")
    assert reopened.version == table.version
    now = _sorted(reopened.scan())
    assert now.column("key").to_pylist() == ["a", "b"]
    assert now.column("v").to_pylist() == [10, 2]
    assert reopened.scan(as_of=t0).sort_by("key").column("v").to_pylist() == [1, 2]


def test_concurrent_appends_on_s3_all_land(
    s3_lake: str, s3_storage_options: dict[str, Any]
) -> None:
    """Writers in threads, each with its own Lakehouse, append at once: every commit lands
    once (the create-if-absent commit and its rebase, on a real object store)."""
    azof.Lakehouse(s3_lake, storage_options=s3_storage_options).create_table("t", SCHEMA)
    writers, appends = 4, 3
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    barrier = threading.Barrier(writers)

    def write(writer: int) -> list[int]:
        table = azof.Lakehouse(s3_lake, storage_options=s3_storage_options).table("t")
        barrier.wait(timeout=30)
        return [
            table.append({"key": [f"w{writer}-{i}"], "event_time": [t0], "v": [writer]})
            for i in range(appends)
        ]

    with ThreadPoolExecutor(writers) as pool:
        versions = [v for vs in pool.map(write, range(writers)) for v in vs]
    assert sorted(versions) == list(range(1, writers * appends + 1))
    final = azof.Lakehouse(s3_lake, storage_options=s3_storage_options).table("t")
    assert final.version == writers * appends
    assert sorted(str(k) for k in final.scan().column("key").to_pylist()) == sorted(
        f"w{w}-{i}" for w in range(writers) for i in range(appends)
    )
