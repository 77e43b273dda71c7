"""Native remote reads: data files on S3 read by pyarrow's S3FileSystem, not through Python.

Against the real server (SeaweedFS, conftest.py): the native path is the one used, makes no
obstore request while a scan reads data, and answers exactly as the same table on local disk
and as the obstore bridge does. Without a server: storage options (given, or from the
environment as obstore reads them) map to the same pyarrow options, and options pyarrow
cannot take keep the bridge, saying why at DEBUG.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pytest

import azof
from azof import CompactionPolicy
from azof.scan import read
from azof.storage import Storage, open_storage
from azof.storage.native import NativeTarget, native_target

SCHEMA = pa.schema(
    [
        pa.field("key", pa.string()),
        pa.field("event_time", pa.timestamp("us", tz="UTC")),
        pa.field("v", pa.int64()),
        pa.field("note", pa.string()),
    ]
)
T0 = datetime(2023, 1, 1, tzinfo=UTC)
KEYS = 300


def _batch(day: int, step: int) -> dict[str, list[Any]]:
    """Events of one day: a third of the keys, shifting with the day."""
    keys = [k for k in range(KEYS) if (k + day) % 3 == 0]
    return {
        "key": [f"k{k:04d}" for k in keys],
        "event_time": [T0 + timedelta(days=day, minutes=k) for k in keys],
        "v": [day * 1000 + k + step for k in keys],
        "note": [None if k % 7 == 0 else f"d{day}" for k in keys],
    }


def _fill(lake: azof.Lakehouse) -> azof.Table:
    """A bucketed table with a compacted history and pending deltas after it."""
    table = lake.create_table("events", SCHEMA)
    table.set_policy(CompactionPolicy(segment="month", buckets=4))
    for day in range(0, 120, 6):
        table.append(_batch(day, 0))
    table.compact()
    for day in range(120, 140, 4):
        table.append(_batch(day, 1))
    return table


PROBES = [None, T0 - timedelta(days=1), T0 + timedelta(days=3), T0 + timedelta(days=61)]
PROBES += [T0 + timedelta(days=125, hours=7), T0 + timedelta(days=400)]


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by([("key", "ascending")])


def _base(filesystem: pafs.FileSystem) -> pafs.FileSystem:
    assert isinstance(filesystem, pafs.SubTreeFileSystem)
    return filesystem.base_fs


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory, s3_server: Any) -> tuple[str, Path]:
    """The same table written to S3 and to a local folder."""
    import uuid

    uri = s3_server.uri(uuid.uuid4().hex)
    _fill(azof.Lakehouse(uri, storage_options=s3_server.storage_options()))
    local = tmp_path_factory.mktemp("native-local")
    _fill(azof.Lakehouse(local))
    return uri, local


@pytest.fixture
def ranged(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every data file read by ranges, as a large one is (the test table's are all small,
    and a small file is read whole at once, through obstore)."""
    monkeypatch.setattr(read, "WHOLE_FILE_BYTES", 0)


@pytest.mark.usefixtures("ranged")
def test_native_path_is_used_and_answers_as_local(s3_server: Any, tables: tuple[str, Path]) -> None:
    uri, local = tables
    remote = azof.Lakehouse(uri, storage_options=s3_server.storage_options()).table("events")
    here = azof.Lakehouse(local).table("events")
    storage = remote.storage
    assert storage.native_reads, storage.native_fallback_reason
    assert isinstance(_base(storage.arrow_filesystem()), pafs.S3FileSystem)
    assert remote.bucket_count() == 4
    for as_of in PROBES:
        before = storage.requests.snapshot()
        metrics = azof.ScanMetrics()
        got = remote.scan(as_of=as_of, metrics=metrics)
        # every data byte came through pyarrow: not one request went through obstore
        assert storage.requests.snapshot() == before, as_of
        assert metrics.files_read > 0 or as_of == PROBES[1]
        expected = here.scan(as_of=as_of)
        assert got.schema == expected.schema
        assert _sorted(got).equals(_sorted(expected)), as_of
    # the streaming and verify paths read through the same filesystem
    streamed = pa.Table.from_batches(list(remote.to_batches(as_of=PROBES[3], merge_rows=50)))
    assert _sorted(streamed).equals(_sorted(here.scan(as_of=PROBES[3])))
    assert remote.verify() > 0


@pytest.mark.usefixtures("ranged")
def test_bridge_fallback_answers_the_same(s3_server: Any, tables: tuple[str, Path]) -> None:
    """An option pyarrow cannot take keeps every read on obstore, with the same answers."""
    uri, local = tables
    options = {**s3_server.storage_options(), "allow_invalid_certificates": False}
    remote = azof.Lakehouse(uri, storage_options=options).table("events")
    storage = remote.storage
    assert not storage.native_reads
    assert "allow_invalid_certificates" in (storage.native_fallback_reason or "")
    assert isinstance(storage.arrow_filesystem(), pafs.PyFileSystem)
    here = azof.Lakehouse(local).table("events")
    for as_of in PROBES[2:4]:
        before = storage.requests.snapshot().get("get_range", 0)
        metrics = azof.ScanMetrics()
        got = remote.scan(as_of=as_of, metrics=metrics)
        assert storage.requests.snapshot().get("get_range", 0) > before  # read through Python
        assert metrics.bytes_read > 0
        assert _sorted(got).equals(_sorted(here.scan(as_of=as_of)))


def test_credentials_from_the_environment_reach_both_paths(
    s3_server: Any, tables: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys and endpoint only in AWS_* variables: obstore and pyarrow both use them."""
    uri, local = tables
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_access_key)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)
    monkeypatch.setenv("AWS_REGION", s3_server.region)
    remote = azof.Lakehouse(uri, storage_options={"allow_http": True}).table("events")
    assert remote.storage.native_reads, remote.storage.native_fallback_reason
    here = azof.Lakehouse(local).table("events")
    assert _sorted(remote.scan(as_of=PROBES[3])).equals(_sorted(here.scan(as_of=PROBES[3])))


def test_wrong_secret_fails_on_the_native_path_too(
    s3_server: Any, tables: tuple[str, Path]
) -> None:
    """The server checks signatures: pyarrow signs with the secret it was given, so a wrong
    one is refused there as it is by obstore (not read anonymously or with other keys)."""
    uri, _ = tables
    good = open_storage(uri, s3_server.storage_options()).child("events")
    name = next(o.path for o in good.list("data") if o.path.endswith(".parquet"))
    bad = open_storage(uri, {**s3_server.storage_options(), "secret_access_key": "nope"})
    bad_table = bad.child("events")
    assert bad_table.native_reads
    with pytest.raises(OSError, match=r"(?i)signature|access|403|forbidden"):
        bad_table.arrow_filesystem().open_input_file(name).read()
    assert good.arrow_filesystem().open_input_file(name).read()[:4] == b"PAR1"


# -- option mapping (no server) ------------------------------------------------------------


def _s3_options(target: NativeTarget | str) -> dict[str, Any]:
    assert isinstance(target, NativeTarget), target
    assert target.kind == "s3"
    filesystem = target.filesystem()
    assert isinstance(filesystem, pafs.S3FileSystem)
    return dict(filesystem.__reduce__()[1][0])  # type: ignore[index]


def _storage_target(uri: str, options: dict[str, Any]) -> NativeTarget | str:
    storage = open_storage(uri, options)
    native = storage._native  # the target open_storage derived, before any read
    assert native is not None
    return native.target


def test_s3_options_map_to_the_same_pyarrow_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    options = {
        "endpoint": "http://127.0.0.1:9000",
        "region": "eu-west-3",
        "access_key_id": "AK",
        "secret_access_key": "SK",
        "session_token": "TOKEN",
        "allow_http": "true",
        "timeout": "45s",
        "connect_timeout": "2500ms",
        "pool_max_idle_per_host": "4",
    }
    target = _storage_target("s3://bucket/lake/root", options)
    assert isinstance(target, NativeTarget)
    assert target.root == "bucket/lake/root"
    got = _s3_options(target)
    assert (got["access_key"], got["secret_key"], got["session_token"]) == ("AK", "SK", "TOKEN")
    assert (got["scheme"], got["endpoint_override"]) == ("http", "127.0.0.1:9000")
    assert got["region"] == "eu-west-3"
    assert (got["request_timeout"], got["connect_timeout"]) == (45.0, 2.5)
    assert not got["anonymous"]
    # the same options spelled the other ways obstore accepts give the same settings
    spelled = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
        "aws_region": "eu-west-3",
        "AWS_ACCESS_KEY_ID": "AK",
        "aws_secret_access_key": "SK",
        "aws_token": "TOKEN",
        "client_options": {"allow_http": True, "timeout": "45 seconds", "connect_timeout": "2.5s"},
    }
    assert _s3_options(_storage_target("s3://bucket/lake/root", spelled)) == got


def test_s3_defaults_follow_obstore(monkeypatch: pytest.MonkeyPatch) -> None:
    """No region: us-east-1; no timeouts: obstore's; no keys: the default chain."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    got = _s3_options(native_target("s3", {"bucket": "b"}, {}, "", environ={}))
    assert got["region"] == "us-east-1"
    assert (got["request_timeout"], got["connect_timeout"]) == (30.0, 5.0)
    assert not got["access_key"]
    assert not got["anonymous"]
    anonymous = _s3_options(native_target("s3", {"bucket": "b", "skip_signature": "true"}, {}, ""))
    assert anonymous["anonymous"]
    virtual = _s3_options(
        native_target("s3", {"bucket": "b", "virtual_hosted_style_request": "true"}, {}, "")
    )
    assert virtual["force_virtual_addressing"]


def test_s3_environment_is_read_as_obstore_reads_it() -> None:
    environ = {
        "AWS_ACCESS_KEY_ID": "ENVKEY",
        "AWS_SECRET_ACCESS_KEY": "ENVSECRET",
        "AWS_DEFAULT_REGION": "ap-south-1",
        "AWS_ENDPOINT": "https://s3.example.com",
        "AWS_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt",  # not obstore's: ignored
        "AWS_ROLE_ARN": "arn:aws:iam::1:role/r",  # the credential chain: both read it
    }
    got = _s3_options(native_target("s3", {"bucket": "b"}, {}, "", environ=environ))
    assert (got["access_key"], got["secret_key"]) == ("ENVKEY", "ENVSECRET")
    plain = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_ALLOW_HTTP": "true"}
    over_http = _s3_options(native_target("s3", {"bucket": "b"}, {}, "", environ=plain))
    assert (over_http["scheme"], over_http["endpoint_override"]) == ("http", "127.0.0.1:9000")
    assert got["region"] == "ap-south-1"
    assert (got["scheme"], got["endpoint_override"]) == ("https", "s3.example.com")
    explicit = native_target(
        "s3", {"bucket": "b", "access_key_id": "A", "secret_access_key": "S"}, {}, "", environ
    )
    assert _s3_options(explicit)["access_key"] == "A"  # given options win over the environment


@pytest.mark.parametrize(
    ("config", "client", "why"),
    [
        ({"request_payer": "true"}, {}, "request_payer"),
        ({"sse_customer_key_base64": "a2V5"}, {}, "sse_customer_key_base64"),
        ({"role_arn": "arn:aws:iam::1:role/r"}, {}, "role_arn"),
        ({"endpoint": "http://127.0.0.1:9000"}, {}, "allow_http"),
        ({"endpoint": "https://host/base/path"}, {}, "path"),
        ({"endpoint": "https://h", "virtual_hosted_style_request": "true"}, {}, "virtual"),
        ({"access_key_id": "A"}, {}, "access_key_id"),
        ({}, {"allow_invalid_certificates": True}, "allow_invalid_certificates"),
        ({}, {"default_headers": {"x": "y"}}, "default_headers"),
        ({}, {"timeout": "soon"}, "timeout"),
    ],
)
def test_unmappable_s3_options_keep_the_bridge(
    config: dict[str, Any], client: dict[str, Any], why: str
) -> None:
    reason = native_target("s3", {"bucket": "b", **config}, client, "", environ={})
    assert isinstance(reason, str)
    assert why in reason


def test_fallback_says_why_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    storage = Storage(None, "s3://b/x")
    assert not storage.native_reads  # no native reads without a target (memory, local)
    remote = open_storage("s3://b/x", {"region": "us-east-1", "request_payer": "true"})
    with caplog.at_level(logging.DEBUG, logger="azof.storage"):
        assert isinstance(remote.arrow_filesystem(), pafs.PyFileSystem)
    assert any("request_payer" in r.getMessage() for r in caplog.records)
    assert remote.native_fallback_reason is not None
    assert open_storage("memory://native-test").native_fallback_reason is None


def test_gcs_and_azure_targets() -> None:
    gcs = native_target("gcs", {"bucket": "b"}, {}, "lake", environ={})
    assert isinstance(gcs, NativeTarget)
    assert gcs.root == "b/lake"
    assert isinstance(gcs.filesystem(), pafs.GcsFileSystem)
    anonymous = native_target("gcs", {"bucket": "b", "skip_signature": "true"}, {}, "")
    assert isinstance(anonymous, NativeTarget)
    assert anonymous.options["anonymous"] is True
    adc = {"GOOGLE_APPLICATION_CREDENTIALS": "/creds.json"}  # read alike by both
    assert isinstance(native_target("gcs", {"bucket": "b"}, {}, "", environ=adc), NativeTarget)
    key = native_target("gcs", {"bucket": "b", "service_account_key": "{}"}, {}, "", environ={})
    assert isinstance(key, str)
    assert "service_account_key" in key
    env_key = native_target("gcs", {"bucket": "b"}, {}, "", environ={"GOOGLE_SERVICE_ACCOUNT": "f"})
    assert isinstance(env_key, str)

    config = {"container_name": "c", "account_name": "acc", "account_key": "a2V5"}
    azure = native_target("azure", config, {}, "lake", environ={})
    assert isinstance(azure, NativeTarget)
    assert azure.root == "c/lake"
    built = azure.filesystem()
    assert isinstance(built, pafs.AzureFileSystem)
    settings = built.__reduce__()[1][0]  # type: ignore[index]
    assert (settings["account_name"], settings["account_key"]) == ("acc", "a2V5")
    environ = {"AZURE_STORAGE_ACCOUNT_NAME": "acc", "AZURE_STORAGE_SAS_TOKEN": "sv=1&sig=x"}
    sas = native_target("azure", {"container_name": "c"}, {}, "", environ=environ)
    assert isinstance(sas, NativeTarget)
    assert sas.options["sas_token"] == "sv=1&sig=x"
    emulator = native_target(
        "azure", {"container_name": "c", "use_emulator": "true"}, {"allow_http": True}, ""
    )
    assert isinstance(emulator, NativeTarget)
    assert emulator.options["blob_storage_authority"] == "127.0.0.1:10000"
    odd = native_target("azure", {**config, "use_fabric_endpoint": "true"}, {}, "", environ={})
    assert isinstance(odd, str)
    assert "use_fabric_endpoint" in odd


@pytest.mark.usefixtures("ranged")
def test_cold_scan_round_trips(s3_server: Any, tables: tuple[str, Path]) -> None:
    """Through a proxy that delays each request by 20 ms: a cold scan opens the table in two
    round trips (the version hint; then its snapshot and the check for a later one, at once),
    reads its footers in one (no HEAD per data file) and then its data in at most two."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import remote  # the latency proxy of benchmarks/remote.py

    uri, _ = tables
    proxy = remote.LatencyProxy(s3_server.endpoint, 0.02)
    options = {**s3_server.storage_options(), "endpoint": proxy.endpoint}
    mark = proxy.mark()
    azof.Lakehouse(uri, storage_options=options).table("events").scan(as_of=PROBES[3])
    logged = proxy.since(mark)
    seen = remote.describe_requests(logged)
    assert not [r for r in logged if r.method == "HEAD" and r.path.endswith(".parquet")]
    assert seen["footer"] >= 2
    meta = [r for r in logged if r.kind == "meta"]
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in meta[:1]] == [("GET", "version.txt")]
    assert len(meta) == 3  # version.txt, then GET s<N> and HEAD s<N+1> (azof.tablelog)
    assert len(remote.round_trips(meta)) == 2
    assert seen["round_kinds"][:2] == ["meta", "meta"]  # then footers, data after them
    assert seen["rounds_before_data"] == 3  # all footers in one round trip
    assert seen["data_rounds"] <= 2


def test_open_with_a_later_version_probes(s3_server: Any) -> None:
    """A hint one version behind (a writer stopped before rewriting it) or naming an expired
    version still opens the latest one, never an older or a marker."""
    import uuid

    from azof import tablelog

    uri = s3_server.uri(uuid.uuid4().hex)
    lake = azof.Lakehouse(uri, storage_options=s3_server.storage_options())
    table = lake.create_table("events", SCHEMA)
    for day in range(3):
        table.append(_batch(day, 0))
    storage = table.storage
    assert table.version == 3
    storage.write(tablelog.VERSION_HINT, b"2")  # stale: s3.json exists
    assert lake.table("events").version == 3
    storage.write(tablelog.snapshot_name(1), tablelog.EXPIRED_MARKER)
    storage.write(tablelog.VERSION_HINT, b"1")  # names an expired version
    assert lake.table("events").version == 3
    assert lake.table("events").refresh().version == 3


@pytest.mark.parametrize("bridge", [False, True])
def test_small_files_are_read_whole(s3_server: Any, tables: tuple[str, Path], bridge: bool) -> None:
    """A data file of at most WHOLE_FILE_BYTES is read whole in one request (footer and data
    together): a cold scan of small files makes two round trips to open the table and one
    for all its data, and answers as local disk does."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import remote  # the latency proxy of benchmarks/remote.py

    uri, local = tables
    proxy = remote.LatencyProxy(s3_server.endpoint, 0.02)
    options = {**s3_server.storage_options(), "endpoint": proxy.endpoint}
    if bridge:
        options["allow_invalid_certificates"] = False
    mark = proxy.mark()
    table = azof.Lakehouse(uri, storage_options=options).table("events")
    metrics = azof.ScanMetrics()
    got = table.scan(as_of=PROBES[3], metrics=metrics)
    logged = proxy.since(mark)
    assert _sorted(got).equals(_sorted(azof.Lakehouse(local).table("events").scan(as_of=PROBES[3])))
    files = [r for r in logged if r.path.endswith(".parquet")]
    assert files
    assert all(r.method == "GET" and r.range is None for r in files)  # one GET each, no HEAD
    assert len({r.path for r in files}) == len(files) == metrics.files_read
    assert metrics.bytes_read > 0
    seen = remote.describe_requests(logged)
    assert seen["rounds_before_data"] == 2
    assert seen["data_rounds"] == 1
