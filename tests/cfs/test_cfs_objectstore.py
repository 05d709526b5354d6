"""The ObjectStore contract, run against every implementation (LocalDirStore, HttpObjectStore on
a real dev server, S3Store on a real moto server): content addressing, binary round trips,
verification, idempotent deletes, streaming of a 64 MiB file without holding it in memory."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from colonies_pkg.models.file import Reference, S3Object
from colonies_pkg.objectstore import (
    AccessDenied,
    BucketNotFound,
    ChecksumMismatch,
    ObjectNotFound,
    ObjectStore,
    StoreUnavailable,
    get_bytes,
    put_bytes,
)
from colonies_pkg.objectstore.router import StoreRouter
from colonies_pkg.objectstore.s3 import S3Config, S3Store, parse_endpoint

HERE = Path(__file__).parent


def test_implements_protocol(store):
    assert isinstance(store.store, ObjectStore)


def test_binary_round_trip(store, tmp_path):
    data = bytes(range(256)) * 1000 + os.urandom(4097) + b"\x00\r\n\x1a"
    src = tmp_path / "in.bin"
    src.write_bytes(data)
    stored = store.store.put_file(str(src))
    assert stored.sha256 == hashlib.sha256(data).hexdigest() == stored.ref.s3object.object
    assert stored.size == len(data)
    assert store.store.owns(stored.ref) and store.store.exists(stored.ref)
    dest = tmp_path / "sub" / "out.bin"
    assert store.store.get_file(stored.ref, str(dest)) == stored.sha256
    assert dest.read_bytes() == data
    assert not [p for p in dest.parent.iterdir() if p.name != "out.bin"]  # no temp files left


def test_empty_and_small_values(store):
    for data in (b"", b"x", os.urandom(100)):
        stored = put_bytes(store.store, data)
        assert get_bytes(store.store, stored.ref) == data


def test_same_content_is_stored_once(store, tmp_path):
    data = os.urandom(1000)
    (tmp_path / "a").write_bytes(data)
    (tmp_path / "b").write_bytes(data)
    first = store.store.put_file(str(tmp_path / "a"))
    second = store.store.put_file(str(tmp_path / "b"))
    assert first.created and not second.created
    assert first.ref == second.ref


def test_progress_reports_every_byte(store, tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 5)
    (tmp_path / "p").write_bytes(data)
    seen: list[int] = []
    stored = store.store.put_file(str(tmp_path / "p"), seen.append)
    assert sum(seen) == len(data)
    seen.clear()
    store.store.get_file(stored.ref, str(tmp_path / "q"), progress=seen.append)
    assert sum(seen) == len(data)


def test_delete_and_missing_objects(store, tmp_path):
    stored = put_bytes(store.store, os.urandom(64))
    store.store.delete(stored.ref)
    assert not store.store.exists(stored.ref)
    store.store.delete(stored.ref)  # deleting twice is fine
    with pytest.raises(ObjectNotFound):
        store.store.get_file(stored.ref, str(tmp_path / "gone"))
    assert not (tmp_path / "gone").exists()


def test_corrupted_object_is_detected(store, tmp_path):
    data = os.urandom(10_000)
    (tmp_path / "c").write_bytes(data)
    stored = store.store.put_file(str(tmp_path / "c"))
    store.corrupt(stored.ref, b"evil" + data[4:])
    dest = tmp_path / "dest.bin"
    dest.write_bytes(b"previous content")
    with pytest.raises(ChecksumMismatch):
        store.store.get_file(stored.ref, str(dest))
    assert dest.read_bytes() == b"previous content"  # never half-replaced
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".cfs-tmp-")] == []
    store.store.delete(stored.ref)


def test_explicit_checksum_is_verified(store, tmp_path):
    stored = put_bytes(store.store, b"hello")
    with pytest.raises(ChecksumMismatch):
        store.store.get_file(stored.ref, str(tmp_path / "x"), sha256="0" * 64)
    assert not (tmp_path / "x").exists()


@pytest.mark.timeout(120)
def test_64mib_is_streamed(store, big_file, tmp_path, record_property):
    """Upload and download 64 MiB in a fresh process; its peak RSS must grow far less than that."""
    dest = tmp_path / "big.out"
    out = subprocess.run([sys.executable, str(HERE / "transfer_probe.py"), json.dumps(store.config),
                          str(big_file), str(dest)], capture_output=True, text=True, timeout=110)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    size = big_file.stat().st_size
    assert r["size"] == size and r["created"]
    assert r["sha256"] == r["object"]
    assert dest.stat().st_size == size
    growth_mib = r["rss_growth_kib"] / 1024
    up, down = size / r["up_s"] / 2**20, size / r["down_s"] / 2**20
    record_property("throughput", f"{store.kind}: up {up:.0f} MiB/s, down {down:.0f} MiB/s, "
                                  f"RSS growth {growth_mib:.1f} MiB")
    print(f"\n[{store.kind}] 64 MiB: upload {up:.0f} MiB/s, download {down:.0f} MiB/s, "
          f"peak RSS growth {growth_mib:.1f} MiB")
    assert growth_mib < 16, f"peak RSS grew by {growth_mib:.1f} MiB for a 64 MiB transfer"
    store.store.delete(store.store.ref(r["object"]))


# --- S3 configuration and errors -------------------------------------------------------------
def test_parse_endpoint():
    assert parse_endpoint("localhost:9000", None) == ("localhost", 9000, False)
    assert parse_endpoint("s3.colonyos.io:443", True) == ("s3.colonyos.io", 443, True)
    assert parse_endpoint("https://s3.example.com", None) == ("s3.example.com", 443, True)
    assert parse_endpoint("http://h:1/", None) == ("h", 1, False)


def test_s3_config_from_env_reads_both_region_names():
    env = {"AWS_S3_ENDPOINT": "h:9000", "AWS_S3_BUCKET": "b", "AWS_S3_REGION_KEY": "eu-1", "AWS_S3_TLS": "true"}
    cfg = S3Config.from_env(env)
    assert (cfg.host, cfg.port, cfg.tls, cfg.region, cfg.bucket) == ("h", 9000, True, "eu-1", "b")
    assert S3Config.from_env({**env, "AWS_S3_REGION": "us-2"}).region == "us-2"


def test_s3_ref_from_go_cli_form():
    """The Go CLI writes server "host:port" and port -1."""
    ref = Reference(protocol="s3", s3object=S3Object(server="localhost:9000", port=-1, bucket="b", object="o"))
    cfg = S3Config.for_ref(ref, {"AWS_S3_ACCESSKEY": "a"})
    assert (cfg.host, cfg.port, cfg.bucket, cfg.accesskey) == ("localhost", 9000, "b", "a")


def test_s3_missing_bucket(moto, tmp_path):
    store = S3Store(S3Config.from_env(moto.env(AWS_S3_BUCKET="no-such-bucket")))
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(BucketNotFound, match="no-such-bucket"):
        store.put_file(str(tmp_path / "f"))


def test_s3_wrong_credentials(moto, tmp_path):
    store = S3Store(S3Config.from_env(moto.env(AWS_S3_SECRETKEY="wrong")))
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(AccessDenied, match="AWS_S3_ACCESSKEY"):
        store.put_file(str(tmp_path / "f"))


def test_s3_unreachable_endpoint_fails_fast(moto, tmp_path):
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = S3Store(S3Config.from_env(moto.env(AWS_S3_ENDPOINT=f"127.0.0.1:{port}")))
    (tmp_path / "f").write_bytes(b"x")
    t0 = time.monotonic()
    with pytest.raises(StoreUnavailable, match="connection refused"):
        store.put_file(str(tmp_path / "f"))
    assert time.monotonic() - t0 < 5


def test_router_serves_references_of_other_stores(moto, dev, tmp_path):
    """Data written to S3 is readable through a router whose primary is the Colonies server."""
    from colonies_pkg.objectstore.router import store_from_env

    s3 = S3Store(S3Config.from_env(moto.env()))
    stored = put_bytes(s3, b"from s3")
    router = store_from_env(dev.client(), "dev", "ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05",
                            moto.env(AWS_S3_ENDPOINT="", AWS_S3_BUCKET=""))
    assert isinstance(router, StoreRouter) and router.primary.protocol == "colonies"
    assert get_bytes(router, stored.ref) == b"from s3"
    local = Reference(protocol="local", s3object=S3Object(bucket="/etc", object="passwd"))
    assert not router.owns(local)  # metadata never makes us read arbitrary local paths


def test_http_store_refuses_non_members(dev, tmp_path):
    from colonies_pkg.crypto import generate_prvkey
    from colonies_pkg.objectstore.http import HttpObjectStore

    outsider = HttpObjectStore("127.0.0.1", dev.port, "dev", generate_prvkey())
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(AccessDenied, match="member of colony dev"):
        outsider.put_file(str(tmp_path / "f"))


def test_http_store_unreachable(tmp_path):
    from colonies_pkg.objectstore.http import HttpObjectStore

    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(StoreUnavailable, match="cannot reach"):
        HttpObjectStore("127.0.0.1", 1, "dev", "ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05"
                        ).put_file(str(tmp_path / "f"))
