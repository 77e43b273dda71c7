"""Native pyarrow filesystems for data reads on S3, GCS and Azure.

A scan reads Parquet through pyarrow. Through the :mod:`~azof.storage.arrowfs` bridge every
range read is a Python call into obstore; through pyarrow's own ``S3FileSystem``,
``GcsFileSystem`` or ``AzureFileSystem`` the footer and the coalesced column ranges are
fetched by Arrow's C++ I/O threads, concurrently, with no Python per request. obstore stays
the seam for everything else (metadata, listings, create-if-absent commits).

Both paths must reach the same objects with the same identity, so the native filesystem is
built from the store's *resolved* options: the storage options azof gave obstore, over the
``AWS_*`` / ``GOOGLE_*`` / ``AZURE_*`` environment variables obstore reads for the keys it
knows. Every key is either mapped to the pyarrow option that means the same, or known not
to change what a read returns (write-only settings such as server-side encryption or
conditional puts, HTTP pool tuning), or not mappable: then :func:`native_target` returns
the reason and the caller keeps the bridge (and logs the reason at DEBUG).

Timeouts follow obstore's defaults (30 s per request, 5 s to connect) when none is given,
so that a slow store fails alike on both paths.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import pyarrow.fs as pafs

__all__ = ["NativeTarget", "native_target"]

_DEFAULT_TIMEOUT = 30.0  # obstore's (object_store's) defaults
_DEFAULT_CONNECT_TIMEOUT = 5.0


@dataclass(frozen=True)
class NativeTarget:
    """A native filesystem to build and where the store's root is in it."""

    kind: str
    """``"s3"``, ``"gcs"`` or ``"azure"``."""
    options: Mapping[str, Any]
    """Keyword arguments of the pyarrow filesystem class."""
    root: str
    """The store's root in that filesystem: ``bucket[/prefix]`` (container for Azure)."""

    def filesystem(self) -> pafs.FileSystem:
        """The pyarrow filesystem itself (rooted at the filesystem's root, not ``root``)."""
        if self.kind == "s3":
            return pafs.S3FileSystem(**self.options)
        if self.kind == "gcs":
            return pafs.GcsFileSystem(**self.options)
        return pafs.AzureFileSystem(**self.options)


# -- option tables --------------------------------------------------------------------------

# obstore's HTTP client options that do not change what a read returns or who makes it.
_TRANSPORT_ONLY = frozenset(
    {
        "default_content_type",  # writes only
        "http1_only",
        "http2_only",
        "http2_keep_alive_interval",
        "http2_keep_alive_timeout",
        "http2_keep_alive_while_idle",
        "pool_idle_timeout",
        "pool_max_idle_per_host",
        "randomize_addresses",
        "user_agent",
    }
)

# Every obstore client option (besides the transport-only ones, _client maps allow_http,
# the timeouts and proxy_url; the others have no pyarrow counterpart).
_CLIENT_KEYS = _TRANSPORT_ONLY | {
    "allow_http",
    "allow_invalid_certificates",
    "connect_timeout",
    "default_headers",
    "proxy_ca_certificate",
    "proxy_excludes",
    "proxy_url",
    "root_certificate",
    "timeout",
}

# S3 config keys (obstore's names after its aliases are resolved), by what happens to them.
_S3_ALIASES = {
    "access_key_id": "access_key_id",
    "secret_access_key": "secret_access_key",
    "region": "region",
    "default_region": "default_region",
    "bucket": "bucket",
    "bucket_name": "bucket",
    "endpoint": "endpoint",
    "endpoint_url": "endpoint",
    "session_token": "session_token",
    "token": "session_token",
    "virtual_hosted_style_request": "virtual_hosted_style_request",
    "skip_signature": "skip_signature",
}
# Write-side or signing details that do not change the bytes a GET returns.
_S3_READ_NEUTRAL = frozenset(
    {
        "checksum_algorithm",
        "conditional_put",
        "copy_if_not_exists",
        "disable_tagging",
        "server_side_encryption",
        "sse_bucket_key_enabled",
        "sse_kms_key_id",
        "unsigned_payload",
        "imdsv1_fallback",
    }
)
# Where credentials come from when none are given. Read from the environment both obstore and
# the AWS SDK behind pyarrow use the same variables (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE,
# AWS_CONTAINER_CREDENTIALS_*); given as storage options, pyarrow cannot take them alike.
_S3_CREDENTIAL_CHAIN = frozenset(
    {
        "role_arn",
        "role_session_name",
        "web_identity_token_file",
        "container_credentials_relative_uri",
        "container_credentials_full_uri",
        "container_authorization_token_file",
        "metadata_endpoint",
        "sts_endpoint",
    }
)
# Other keys obstore reads from AWS_* variables (pyarrow has no counterpart): fall back.
_S3_UNMAPPED = frozenset({"request_payer", "s3_express", "sse_customer_key_base64"})

_GCS_ALIASES = {
    "bucket": "bucket",
    "bucket_name": "bucket",
    "skip_signature": "skip_signature",
    "service_account": "service_account",
    "service_account_path": "service_account",
    "service_account_key": "service_account_key",
    "application_credentials": "application_credentials",
}

_AZURE_ALIASES = {
    "account_name": "account_name",
    "storage_account_name": "account_name",
    "account_key": "account_key",
    "access_key": "account_key",
    "storage_account_key": "account_key",
    "master_key": "account_key",
    "storage_access_key": "account_key",
    "sas_key": "sas_key",
    "sas_token": "sas_key",
    "storage_sas_key": "sas_key",
    "storage_sas_token": "sas_key",
    "client_id": "client_id",
    "storage_client_id": "client_id",
    "client_secret": "client_secret",
    "storage_client_secret": "client_secret",
    "tenant_id": "tenant_id",
    "storage_tenant_id": "tenant_id",
    "authority_id": "tenant_id",
    "storage_authority_id": "tenant_id",
    "container_name": "container_name",
    "use_emulator": "use_emulator",
    "skip_signature": "skip_signature",
}


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$")
_UNIT_SECONDS = {
    **dict.fromkeys(("", "s", "sec", "secs", "second", "seconds"), 1.0),
    **dict.fromkeys(("ms", "msec", "millis", "milliseconds"), 0.001),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60.0),
    **dict.fromkeys(("h", "hr", "hour", "hours"), 3600.0),
}


def _seconds(value: Any) -> float | None:
    """A duration as obstore takes it (``"30s"``, ``"500ms"``, ``"2 minutes"``, a number of
    seconds, a ``timedelta``) in seconds; ``None`` when it does not parse."""
    if hasattr(value, "total_seconds"):
        return float(value.total_seconds())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    match = _DURATION.match(str(value).lower())
    if match is None or match[2] not in _UNIT_SECONDS:
        return None
    return float(match[1]) * _UNIT_SECONDS[match[2]]


def _normalized(
    explicit: Mapping[str, Any],
    environ: Mapping[str, str],
    env_prefix: str,
    aliases: Mapping[str, str],
    known: frozenset[str],
) -> tuple[dict[str, Any], set[str]]:
    """The resolved config (environment below explicit keys) under obstore's canonical names,
    and which of its keys were given explicitly. Environment variables that are not store
    keys obstore knows (``known`` or aliased) are left out, as obstore leaves them out."""
    resolved: dict[str, Any] = {}
    for name, value in environ.items():
        lower = name.lower()
        if not lower.startswith(env_prefix):
            continue
        key = lower[len(env_prefix) :]
        canonical = aliases.get(key, key if key in known else None)
        if canonical is not None:
            resolved[canonical] = value
    given = set()
    for name, value in explicit.items():
        key = name.lower()
        key = key[len(env_prefix) :] if key.startswith(env_prefix) else key
        canonical = aliases.get(key, key)
        resolved[canonical] = value
        given.add(canonical)
    return resolved, given


def _client(client_options: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """obstore client options as (timeouts, proxy, allow_http) for pyarrow, or a reason."""
    out: dict[str, Any] = {"allow_http": False}
    for name, value in client_options.items():
        key = str(name).lower()
        if key in _TRANSPORT_ONLY:
            continue
        if key == "allow_http":
            out["allow_http"] = _truthy(value)
        elif key in ("timeout", "connect_timeout"):
            seconds = _seconds(value)
            if seconds is None:
                return {}, f"client option {key}={value!r} is not a duration pyarrow can take"
            out[key] = seconds
        elif key == "proxy_url":
            out["proxy_url"] = str(value)
        else:
            return {}, f"client option {key!r} has no pyarrow counterpart"
    return out, None


def native_target(
    kind: str,
    config: Mapping[str, Any],
    client_options: Mapping[str, Any],
    prefix: str,
    environ: Mapping[str, str] | None = None,
) -> NativeTarget | str:
    """The native filesystem equivalent to an obstore store, or why there is none.

    ``kind`` is the obstore store's kind (``"s3"``, ``"gcs"``, ``"azure"``), ``config`` and
    ``client_options`` what it was built with (its ``config`` and ``client_options``),
    ``prefix`` the store's own path prefix, ``environ`` the environment it read (default:
    this process's).
    """
    env = os.environ if environ is None else environ
    prefix_of = {"s3": "aws_", "gcs": "google_", "azure": "azure_"}
    from_env = {}  # obstore reads client options from the environment too (AWS_ALLOW_HTTP)
    for name, value in env.items():
        lower = name.lower()
        if kind in prefix_of and lower.startswith(prefix_of[kind]):
            key = lower[len(prefix_of[kind]) :]
            if key in _CLIENT_KEYS:
                from_env[key] = value
    client, reason = _client({**from_env, **client_options})
    if reason is not None:
        return reason
    if kind == "s3":
        return _s3_target(config, client, prefix, env)
    if kind == "gcs":
        return _gcs_target(config, client, prefix, env)
    if kind == "azure":
        return _azure_target(config, client, prefix, env)
    return f"no native pyarrow filesystem for {kind!r} stores"


def _root(bucket: str, prefix: str) -> str:
    prefix = prefix.strip("/")
    return f"{bucket}/{prefix}" if prefix else bucket


def _timeouts(client: Mapping[str, Any]) -> dict[str, float]:
    return {
        "request_timeout": float(client.get("timeout", _DEFAULT_TIMEOUT)),
        "connect_timeout": float(client.get("connect_timeout", _DEFAULT_CONNECT_TIMEOUT)),
    }


def _endpoint(url: str, allow_http: bool) -> tuple[str, str] | str:
    """(scheme, host[:port]) of an endpoint URL, or why it cannot be used natively."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return f"endpoint {url!r} is not an http(s) URL"
    if parsed.path.strip("/"):
        return f"endpoint {url!r} has a path, which pyarrow cannot take"
    if parsed.scheme == "http" and not allow_http:
        return f"endpoint {url!r} is plain http but allow_http is not set"
    return parsed.scheme, parsed.netloc


def _s3_target(
    config: Mapping[str, Any], client: Mapping[str, Any], prefix: str, env: Mapping[str, str]
) -> NativeTarget | str:
    known = frozenset(_S3_ALIASES) | _S3_READ_NEUTRAL | _S3_CREDENTIAL_CHAIN | _S3_UNMAPPED
    resolved, given = _normalized(config, env, "aws_", _S3_ALIASES, known)
    for key in resolved:
        if key in _S3_ALIASES.values() or key in _S3_READ_NEUTRAL:
            continue
        if key in _S3_CREDENTIAL_CHAIN and key not in given:
            continue  # the AWS SDK reads the same variable
        return f"S3 option {key!r} has no pyarrow counterpart"
    bucket = resolved.get("bucket")
    if not bucket:
        return "the S3 store names no bucket"
    options: dict[str, Any] = {
        "region": resolved.get("region") or resolved.get("default_region") or "us-east-1",
        **_timeouts(client),
    }
    if _truthy(resolved.get("skip_signature", False)):
        options["anonymous"] = True
    else:
        keys = [k for k in ("access_key_id", "secret_access_key") if resolved.get(k)]
        if len(keys) == 1:
            return f"only {keys[0]} is set"
        if keys:
            options["access_key"] = str(resolved["access_key_id"])
            options["secret_key"] = str(resolved["secret_access_key"])
            if resolved.get("session_token"):
                options["session_token"] = str(resolved["session_token"])
    virtual = _truthy(resolved.get("virtual_hosted_style_request", False))
    endpoint = resolved.get("endpoint")
    if endpoint:
        if virtual:
            return "a custom endpoint with virtual-hosted-style requests"
        found = _endpoint(str(endpoint), bool(client.get("allow_http")))
        if isinstance(found, str):
            return found
        options["scheme"], options["endpoint_override"] = found
    elif virtual:
        options["force_virtual_addressing"] = True
    if client.get("proxy_url"):
        options["proxy_options"] = str(client["proxy_url"])
    return NativeTarget("s3", options, _root(str(bucket), prefix))


def _timeouts_or_proxy(client: Mapping[str, Any]) -> bool:
    """Whether the client options set what pyarrow's GCS and Azure filesystems cannot."""
    return "timeout" in client or "connect_timeout" in client or bool(client.get("proxy_url"))


def _gcs_target(
    config: Mapping[str, Any], client: Mapping[str, Any], prefix: str, env: Mapping[str, str]
) -> NativeTarget | str:
    resolved, given = _normalized(config, env, "google_", _GCS_ALIASES, frozenset())
    for key in resolved:
        if key in ("bucket", "skip_signature"):
            continue
        if key == "application_credentials" and key not in given:
            continue  # GOOGLE_APPLICATION_CREDENTIALS: both use application default credentials
        return f"GCS option {key!r} has no pyarrow counterpart"
    if _timeouts_or_proxy(client):
        return "GCS timeouts and proxies have no pyarrow counterpart"
    bucket = resolved.get("bucket")
    if not bucket:
        return "the GCS store names no bucket"
    options: dict[str, Any] = {}
    if _truthy(resolved.get("skip_signature", False)):
        options["anonymous"] = True
    return NativeTarget("gcs", options, _root(str(bucket), prefix))


def _azure_target(
    config: Mapping[str, Any], client: Mapping[str, Any], prefix: str, env: Mapping[str, str]
) -> NativeTarget | str:
    resolved, _ = _normalized(config, env, "azure_", _AZURE_ALIASES, frozenset())
    for key in resolved:
        if key not in _AZURE_ALIASES.values() or key == "skip_signature":
            return f"Azure option {key!r} has no pyarrow counterpart"
    if _timeouts_or_proxy(client):
        return "Azure timeouts and proxies have no pyarrow counterpart"
    container = resolved.get("container_name")
    if not container:
        return "the Azure store names no container"
    options: dict[str, Any] = {}
    if _truthy(resolved.get("use_emulator", False)):
        # Azurite, as obstore reaches it: its well-known account unless one is given
        if not client.get("allow_http"):
            return "the Azure emulator is plain http but allow_http is not set"
        options.update(
            account_name=resolved.get("account_name") or "devstoreaccount1",
            account_key=resolved.get("account_key")
            or "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
            "K1SZFPTOtr/KBHBeksoGMGw==",
            blob_storage_authority="127.0.0.1:10000",
            dfs_storage_authority="127.0.0.1:10000",
            blob_storage_scheme="http",
            dfs_storage_scheme="http",
        )
    elif not resolved.get("account_name"):
        return "the Azure store names no account"
    else:
        options["account_name"] = str(resolved["account_name"])
        if resolved.get("account_key"):
            options["account_key"] = str(resolved["account_key"])
    if resolved.get("sas_key"):
        if "account_key" in options:
            return "both an account key and a SAS token are set"
        options["sas_token"] = str(resolved["sas_key"])
    secret = [k for k in ("client_id", "client_secret", "tenant_id") if resolved.get(k)]
    if secret:
        if len(secret) != 3:
            return f"Azure service principal options {secret} without the others"
        for key in secret:
            options[key] = str(resolved[key])
    return NativeTarget("azure", options, _root(str(container), prefix))
