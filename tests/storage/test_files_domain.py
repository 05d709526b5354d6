"""CFS metadata rules on a real SQLite file: path-safe names, the root label, shared objects."""
from __future__ import annotations

import pytest

from colonies_pkg.clock import NS
from colonies_pkg.crypto import generate_prvkey, id_of_prvkey
from colonies_pkg.domain import colonies, files
from colonies_pkg.errors import BadRequest
from colonies_pkg.models.colony import Colony, User
from colonies_pkg.models.file import File, Reference, S3Object

T0 = 1_800_000_000 * NS


@pytest.fixture
def env(tx):
    server, owner, user = (id_of_prvkey(generate_prvkey()) for _ in range(3))
    colonies.ensure_server_id(tx, T0, server)
    colonies.add_colony(tx, T0, server, Colony(colonyid=owner, name="c"))
    colonies.add_user(tx, T0, owner, User(colonyname="c", userid=user, name="u"))
    return tx, user


def _file(label: str, name: str, obj: str, server: str = "localhost") -> File:
    return File(colonyname="c", label=label, name=name, size=1, checksum=obj, checksumalg="SHA256",
                ref=Reference(protocol="s3", s3object=S3Object(server=server, port=9000, bucket="b", object=obj,
                                                               secretkey="secret")))


@pytest.mark.parametrize(("label", "name"), [("/a", ".."), ("/a", "."), ("/a/../b", "x"), ("/a", "x\\y"),
                                             ("/a", "x\ny"), ("/a//b", "x"), ("/a", "")])
def test_path_unsafe_names_and_labels_are_refused(env, label, name):
    tx, user = env
    with pytest.raises(BadRequest):
        files.add_file(tx, T0, user, _file(label, name, "o1"))
    assert files.list_labels(tx, T0, user, "c", "", False) == []


def test_secrets_are_never_stored(env):
    tx, user = env
    stored = files.add_file(tx, T0, user, _file("/a", "x", "o1"))
    assert stored.ref.s3object.secretkey == ""


def test_root_label_snapshot_captures_every_sub_label(env):
    tx, user = env
    for label, name in (("/", "top"), ("/a", "x"), ("/a/b", "y")):
        files.add_file(tx, T0, user, _file(label, name, name))
    snap = files.create_snapshot(tx, T0, user, "c", "/", "all")
    assert len(snap.fileids) == 3
    assert {lab.name for lab in files.list_labels(tx, T0, user, "c", "/", True)} == {"/", "/a", "/a/b"}


def test_an_object_shared_under_two_endpoint_spellings_is_not_freed_early(env):
    tx, user = env
    first = files.add_file(tx, T0, user, _file("/a", "x", "same", server="localhost"))
    files.add_file(tx, T0, user, _file("/b", "y", "same", server="127.0.0.1"))
    removed = files.remove_file(tx, T0, user, "c", first.fileid, "", "")
    assert removed.unreferenced == []


def test_snapshot_keeps_removed_file_until_it_goes(env):
    tx, user = env
    f = files.add_file(tx, T0, user, _file("/a", "x", "o1"))
    files.create_snapshot(tx, T0, user, "c", "/a", "s")
    assert files.remove_file(tx, T0, user, "c", "", "/a", "x").unreferenced == []
    assert files.get_file(tx, T0, user, "c", f.fileid, "", "", True)[0].fileid == f.fileid
    freed = files.remove_snapshot(tx, T0, user, "c", "", "s").unreferenced
    assert [r.s3object.object for r in freed] == ["o1"]
