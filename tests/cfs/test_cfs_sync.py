"""The CFS client library against a real dev server, with contents on the server's own store
("http") and on moto ("s3"): versions, labels and sub-labels, snapshots that outlive file
removal, sync plans and conflicts both ways, unsafe names, no half-registered files, and
interoperability with pycolonies' S3 uploads."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from colonies_pkg.cfs import CFS, CFSError, normalize_label, sub_label_dir
from colonies_pkg.errors import BadRequest, ColoniesError
from colonies_pkg.objectstore import ObjectStoreError, put_bytes
from colonies_pkg.objectstore.local import LocalDirStore
from colonies_pkg.objectstore.router import store_from_env

KEY = "ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05"


@pytest.fixture(params=["http", "s3"])
def cfs(request: pytest.FixtureRequest, dev) -> CFS:
    env = request.getfixturevalue("moto").env() if request.param == "s3" else {}
    client = dev.client()
    return CFS(client, store_from_env(client, "dev", KEY, env), "dev", KEY)


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_label_helpers():
    assert normalize_label("myfiles/") == normalize_label("//myfiles") == "/myfiles"
    assert normalize_label("") == "/"
    assert sub_label_dir("/a", "/a") == ""
    assert sub_label_dir("/a", "/a/b/c") == os.path.join("b", "c")
    assert sub_label_dir("/a", "/a/../x") is None
    assert sub_label_dir("/a", "/ab") is None
    assert sub_label_dir("/", "/x") == "x"


def test_versions_and_latest(cfs, label, tmp_path):
    f1 = cfs.upload(str(write(tmp_path / "v" / "data.txt", "one")), label)
    f2 = cfs.upload(str(write(tmp_path / "v" / "data.txt", "two!")), label)
    assert f2.sequencenr > f1.sequencenr and f2.fileid != f1.fileid
    assert f2.checksumalg == "SHA256" and f2.size == 4 and f2.label == label
    versions = cfs.versions(label, "data.txt")
    assert [v.fileid for v in versions] == [f2.fileid, f1.fileid]
    assert cfs.latest(label, "data.txt").fileid == f2.fileid
    assert [(fd.name, fd.size) for fd in cfs.files(label)] == [("data.txt", 4)]
    out = cfs.download(cfs.file_by_id(f1.fileid), str(tmp_path / "old.txt"))
    assert Path(out).read_text() == "one"
    assert f2.ref.s3object.accesskey == f2.ref.s3object.secretkey == ""


def test_labels_and_sub_labels(cfs, label, tmp_path):
    src = write(tmp_path / "x.txt", "x")
    for lab in (label, f"{label}/sub", f"{label}/sub/deeper", f"{label}x"):
        cfs.upload(str(src), lab)
    names = [lab.name for lab in cfs.labels(label, exact=True)]
    assert names == [label, f"{label}/sub", f"{label}/sub/deeper"]  # not "{label}x"
    count, failures = cfs.remove_label(label)
    assert (count, failures) == (3, [])
    assert cfs.labels(label, exact=True) == []
    # the same content is still used by "{label}x": its object must survive
    assert cfs.store.exists(cfs.latest(f"{label}x", "x.txt").ref)
    cfs.remove_label(f"{label}x")


def test_removing_a_file_frees_its_object(cfs, label, tmp_path):
    f = cfs.upload(str(write(tmp_path / "gone.bin", os.urandom(500))), label)
    assert cfs.store.exists(f.ref)
    assert cfs.remove_file(label=label, name="gone.bin") == []
    assert not cfs.store.exists(f.ref)
    assert cfs.versions(label, "gone.bin") == []


def test_snapshot_survives_file_removal(cfs, label, tmp_path):
    a_data, b_data = os.urandom(100), os.urandom(100)
    a = cfs.upload(str(write(tmp_path / "a.txt", a_data)), label)
    b = cfs.upload(str(write(tmp_path / "b.txt", b_data)), f"{label}/sub")
    snap = cfs.create_snapshot(label, f"snap-{label[3:]}")
    assert sorted(snap.fileids) == sorted([a.fileid, b.fileid])
    cfs.upload(str(write(tmp_path / "a.txt", "newer")), label)  # later versions are not in it
    cfs.remove_label(label)
    assert cfs.labels(label, exact=True) == []
    assert cfs.store.exists(a.ref) and cfs.store.exists(b.ref)  # kept for the snapshot
    out = tmp_path / "snap"
    paths = cfs.download_snapshot(cfs.snapshot(name=snap.name), str(out), readonly=True)
    assert len(paths) == 2
    assert tree(out) == {"a.txt": a_data, os.path.join("sub", "b.txt"): b_data}
    assert (out / "a.txt").stat().st_mode & 0o777 == 0o444
    # downloading again keeps what is already right (read-only files included)
    assert cfs.download_snapshot(cfs.snapshot(snapshotid=snap.snapshotid), str(out), readonly=True) == paths
    assert cfs.remove_snapshot(snapshotid=snap.snapshotid) == []
    assert not cfs.store.exists(a.ref) and not cfs.store.exists(b.ref)


def test_sync_round_trip_with_sub_directories(cfs, label, tmp_path):
    src = tmp_path / "myfiles"
    write(src / "hello.txt", "Hello\n")
    write(src / "subdir" / "hello2.txt", "Hello 2\n")
    write(src / "subdir" / "deep" / "bin.dat", os.urandom(2000))
    plan = cfs.sync_plan(label, str(src), keeplocal=True)
    assert (plan.uploads, plan.downloads, plan.conflicts) == (3, 0, 0)
    events: list[tuple[str, str]] = []
    cfs.apply(plan, lambda t, ev, n: events.append((ev, t.remote_name)) if ev != "bytes" else None)
    assert ("done", f"{label}/subdir/hello2.txt") in events
    assert [lab.name for lab in cfs.labels(label, exact=True)] == [label, f"{label}/subdir", f"{label}/subdir/deep"]
    assert cfs.sync_plan(label, str(src), True).empty
    copy = tmp_path / "myfiles2"
    plan = cfs.sync_plan(label, str(copy), keeplocal=True)
    assert (plan.uploads, plan.downloads) == (0, 3)
    assert not copy.exists()  # planning changes nothing
    cfs.apply(plan)
    assert tree(copy) == tree(src)


@pytest.mark.parametrize("keeplocal", [True, False])
def test_sync_conflicts(cfs, label, tmp_path, keeplocal):
    remote_dir = tmp_path / "remote"
    write(remote_dir / "x.txt", "remote x")
    write(remote_dir / "only-remote.txt", "r")
    cfs.apply(cfs.sync_plan(label, str(remote_dir), True))
    local = tmp_path / "local"
    write(local / "x.txt", "local x")
    write(local / "sub" / "only-local.txt", "l")
    plan = cfs.sync_plan(label, str(local), keeplocal)
    assert (plan.uploads, plan.downloads, plan.conflicts) == (1, 1, 1)
    assert plan.resolution == ("replace-remote" if keeplocal else "replace-local")
    cfs.apply(plan)
    assert (local / "only-remote.txt").read_text() == "r"
    assert cfs.latest(f"{label}/sub", "only-local.txt").size == 1
    if keeplocal:
        assert (local / "x.txt").read_text() == "local x"
        assert len(cfs.versions(label, "x.txt")) == 2
        cfs.download(cfs.latest(label, "x.txt"), str(tmp_path / "check"))
        assert (tmp_path / "check").read_text() == "local x"
    else:
        assert (local / "x.txt").read_text() == "remote x"
        assert len(cfs.versions(label, "x.txt")) == 1
    assert cfs.sync_plan(label, str(local), keeplocal).empty


def test_unsafe_remote_names_are_never_written(cfs, label, tmp_path):
    stored = put_bytes(cfs.store, b"owned")
    import msgspec

    def add(lab, name):
        return cfs.client.rpc({"msgtype": "addfilemsg", "file": {
            "colonyname": "dev", "label": lab, "name": name, "size": 5, "checksum": stored.sha256,
            "checksumalg": "SHA256", "ref": msgspec.to_builtins(stored.ref)}}, KEY)

    # the server refuses names and labels a client would turn into paths outside its directory
    for lab, name in ((label, ".."), (f"{label}/../escape", "x.txt"), (label, "a\\b"), (f"{label}//x", "y")):
        with pytest.raises(BadRequest):
            add(lab, name)
    add(label, "ok.txt")
    dest = tmp_path / "area" / "dest"
    plan = cfs.sync_plan(label, str(dest), keeplocal=False)
    assert plan.downloads == 1
    cfs.apply(plan)
    assert tree(tmp_path / "area") == {os.path.join("dest", "ok.txt"): b"owned"}
    cfs.remove_label(label)


def test_failed_upload_registers_nothing(dev, moto, label, tmp_path):
    client = dev.client()
    broken = CFS(client, store_from_env(client, "dev", KEY, moto.env(AWS_S3_BUCKET="missing-bucket")), "dev", KEY)
    with pytest.raises(ObjectStoreError, match="missing-bucket"):
        broken.upload(str(write(tmp_path / "f.txt", "data")), label)
    assert broken.versions(label, "f.txt") == []


def test_failed_registration_removes_the_new_object(dev, tmp_path):
    store = LocalDirStore(str(tmp_path / "objects"))
    cfs = CFS(dev.client(), store, "no-such-colony", KEY)
    with pytest.raises(ColoniesError):
        cfs.upload(str(write(tmp_path / "f.txt", "data")), "/x")
    assert [p for p in (tmp_path / "objects").rglob("*") if p.is_file()] == []


def test_unknown_file_id(cfs):
    with pytest.raises(CFSError):
        cfs.file_by_id("0" * 64)


# --- interoperability with pycolonies (boto3, random object names, protocol "s3") --------------
@pytest.fixture
def pycolonies_env(moto, monkeypatch):
    for k, v in moto.env(AWS_S3_REGION="us-east-1").items():
        monkeypatch.setenv(k, v)
    return moto.env()


def test_download_what_pycolonies_uploaded(dev, pycolonies_env, label, tmp_path):
    pycolonies = pytest.importorskip("pycolonies")
    colonies = pycolonies.Colonies("127.0.0.1", dev.port, tls=False)
    colonies.upload_file("dev", KEY, filepath=str(write(tmp_path / "py.txt", "uploaded by pycolonies")), label=label)
    client = dev.client()
    cfs = CFS(client, store_from_env(client, "dev", KEY, {**pycolonies_env, "AWS_S3_ENDPOINT": ""}), "dev", KEY)
    f = cfs.latest(label, "py.txt")
    assert f.ref.protocol == "s3" and f.ref.s3object.object != f.checksum  # random object name
    cfs.download(f, str(tmp_path / "out.txt"))
    assert (tmp_path / "out.txt").read_text() == "uploaded by pycolonies"


def test_pycolonies_downloads_what_we_uploaded(dev, pycolonies_env, label, tmp_path):
    pycolonies = pytest.importorskip("pycolonies")
    client = dev.client()
    cfs = CFS(client, store_from_env(client, "dev", KEY, pycolonies_env), "dev", KEY)
    cfs.upload(str(write(tmp_path / "ours.txt", "uploaded by colonies-py")), label)
    colonies = pycolonies.Colonies("127.0.0.1", dev.port, tls=False)
    out = colonies.download_file("dev", KEY, dst=str(tmp_path / "dl"), label=label, filename="ours.txt")
    assert Path(out).read_text() == "uploaded by colonies-py"


def test_root_label_covers_every_label(cfs, label, tmp_path):
    cfs.upload(str(write(tmp_path / "r.txt", "r")), f"{label}/deep")
    assert f"{label}/deep" in [lab.name for lab in cfs.labels("/", exact=True)]
    cfs.remove_label(label)


def test_upload_restores_content_deleted_between_put_and_register(cfs, label, tmp_path):
    """Content addressing race: identical content was stored, then deleted as unreferenced by
    another client after our put saw it, before our addfilemsg: the upload stores it again."""
    src = write(tmp_path / "race.txt", os.urandom(64))
    store = cfs.store
    real_put = store.put_file

    calls: list[str] = []

    def put_then_lose(path, progress=None):
        stored = real_put(path, progress)
        calls.append(path)
        if len(calls) == 1:
            store.delete(stored.ref)  # the other client's delete lands here
        return type(stored)(stored.ref, stored.sha256, stored.size, False)

    store.put_file = put_then_lose
    try:
        f = cfs.upload(str(src), label)
    finally:
        del store.put_file
    assert len(calls) == 2 and store.exists(f.ref)
    cfs.download(f, str(tmp_path / "back"))
    assert (tmp_path / "back").read_bytes() == src.read_bytes()
