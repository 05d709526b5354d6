"""Colonies File System metadata (PROTOCOL §4.12): file versions in labels, and snapshots.

The server keeps metadata only; data lives in an object store the clients write to. A removed
file that a snapshot references is hidden, not deleted, so the snapshot keeps working; replies
to removals list the stored objects no metadata refers to any more, which clients may delete.
"""
from __future__ import annotations

from collections.abc import Callable

import msgspec

from ..errors import BadRequest, NotFound
from ..ids import new_id
from ..models.file import File, FileData, Label, Reference, Snapshot, normalize_label
from ..storage import files as store
from ..storage.db import Tx
from ..storage.rows import FileRow, SnapshotRow
from . import security

_ref = msgspec.json.Decoder(Reference)


class Removed(msgspec.Struct):
    """Reply of removals: objects that no file or snapshot refers to any more."""

    unreferenced: list[Reference] = msgspec.field(default_factory=list)


def _unsafe(part: str) -> bool:
    """Names clients turn into paths: no ".", "..", backslashes or control characters."""
    return part in (".", "..") or "\\" in part or any(ord(c) < 32 or ord(c) == 127 for c in part)


def check_label(label: str) -> str:
    label = normalize_label(label)
    if any(_unsafe(seg) or seg == "" for seg in label.split("/")[1:] if label != "/"):
        raise BadRequest(f"Invalid label {label!r}: no empty, '.' or '..' segments, backslashes or control characters")
    return label


def object_key(ref: Reference) -> str:
    """What identifies stored data for reference counting: protocol, bucket and object (the
    endpoint's spelling — localhost or 127.0.0.1 — must not make one object look like two)."""
    o = ref.s3object
    return f"{ref.protocol}:{o.bucket}/{o.object}"


def add_file(tx: Tx, now: int, caller: str, file: File | None) -> File:
    if file is None:
        raise BadRequest("Failed to add file, file is nil")
    security.require_member(tx, caller, file.colonyname)
    if not file.name or "/" in file.name or _unsafe(file.name):
        raise BadRequest("Failed to add file, the file name must be non-empty and contain no '/', '\\' or "
                         "control characters, and must not be '.' or '..'")
    if file.size < 0:
        raise BadRequest("Failed to add file, negative size")
    if not file.ref.s3object.object:
        raise BadRequest("Failed to add file, the reference names no stored object")
    file.label = check_label(file.label)
    file.fileid = new_id()
    file.sequencenr = store.next_sequence(tx)
    s3 = file.ref.s3object  # credentials never go into shared metadata
    s3.accesskey = s3.secretkey = s3.encryptionkey = ""
    store.add(tx, file, object_key(file.ref), now)
    row = store.by_id(tx, file.colonyname, file.fileid)
    assert row is not None
    return store.to_wire(row)


def get_file(tx: Tx, now: int, caller: str, colonyname: str, fileid: str, label: str, name: str,
             latest: bool) -> list[File]:
    security.require_member(tx, caller, colonyname)
    if fileid:
        row = store.by_id(tx, colonyname, fileid)
        if row is None:
            raise NotFound(f"Failed to get file, no file with Id {fileid}")
        return [store.to_wire(row)]
    if label and name:
        rows = store.versions(tx, colonyname, normalize_label(label), name, latest)
        if not rows:
            raise NotFound(f"Failed to get file, no file {name} in label {normalize_label(label)}")
        return [store.to_wire(r) for r in rows]
    raise BadRequest("Failed to get file, give a fileid, or a label and a name")


def list_files(tx: Tx, now: int, caller: str, colonyname: str, label: str) -> list[FileData]:
    security.require_member(tx, caller, colonyname)
    return store.latest_in_label(tx, colonyname, normalize_label(label))


def list_labels(tx: Tx, now: int, caller: str, colonyname: str, name: str, exact: bool) -> list[Label]:
    security.require_member(tx, caller, colonyname)
    return store.labels(tx, colonyname, normalize_label(name) if name else "", exact)


def _drop(tx: Tx, rows: list[FileRow]) -> Removed:
    """Delete or hide file rows; returns the objects left without any reference."""
    freed: dict[str, Reference] = {}
    for row in rows:
        if store.is_snapshotted(tx, row.fileid):
            store.hide(tx, row.fileid)
            continue
        store.delete(tx, row.fileid)
        if not store.object_in_use(tx, row.objectkey):
            freed[row.objectkey] = _ref.decode(row.ref)
    return Removed(list(freed.values()))


def remove_file(tx: Tx, now: int, caller: str, colonyname: str, fileid: str, label: str, name: str) -> Removed:
    security.require_member(tx, caller, colonyname)
    if fileid:
        row = store.by_id(tx, colonyname, fileid)
        rows = [row] if row is not None and not row.removed else []
    elif label and name:
        rows = store.versions(tx, colonyname, normalize_label(label), name, latest=False)
    else:
        raise BadRequest("Failed to remove file, give a fileid, or a label and a name")
    return _drop(tx, rows)


def create_snapshot(tx: Tx, now: int, caller: str, colonyname: str, label: str, name: str) -> Snapshot:
    security.require_member(tx, caller, colonyname)
    if not name:
        raise BadRequest("Failed to create snapshot, the name is empty")
    label = normalize_label(label)
    if store.snapshot_row(tx, colonyname, name=name) is not None:
        raise BadRequest(f"Snapshot with name {name} in Colony {colonyname} already exists")
    snapshotid = new_id()
    store.add_snapshot(tx, snapshotid, colonyname, label, name, store.latest_ids_under(tx, colonyname, label), now)
    row = store.snapshot_row(tx, colonyname, snapshotid=snapshotid)
    assert row is not None
    return store.snapshot_wire(tx, row)


def _snapshot_row(tx: Tx, colonyname: str, snapshotid: str, name: str) -> SnapshotRow:
    if not snapshotid and not name:
        raise BadRequest("Give a snapshot id or a snapshot name")
    row = store.snapshot_row(tx, colonyname, snapshotid=snapshotid, name=name)
    if row is None:
        raise NotFound(f"Snapshot not found with {'Id ' + snapshotid if snapshotid else 'name ' + name}")
    return row


def get_snapshot(tx: Tx, now: int, caller: str, colonyname: str, snapshotid: str, name: str) -> Snapshot:
    security.require_member(tx, caller, colonyname)
    return store.snapshot_wire(tx, _snapshot_row(tx, colonyname, snapshotid, name))


def list_snapshots(tx: Tx, now: int, caller: str, colonyname: str) -> list[Snapshot]:
    security.require_member(tx, caller, colonyname)
    return [store.snapshot_wire(tx, r) for r in store.snapshots(tx, colonyname)]


def remove_snapshot(tx: Tx, now: int, caller: str, colonyname: str, snapshotid: str, name: str) -> Removed:
    security.require_member(tx, caller, colonyname)
    store.remove_snapshot(tx, _snapshot_row(tx, colonyname, snapshotid, name).snapshotid)
    return _purge_hidden(tx, colonyname)


def remove_all_snapshots(tx: Tx, now: int, caller: str, colonyname: str) -> Removed:
    security.require_member(tx, caller, colonyname)
    for row in store.snapshots(tx, colonyname):
        store.remove_snapshot(tx, row.snapshotid)
    return _purge_hidden(tx, colonyname)


def _purge_hidden(tx: Tx, colonyname: str) -> Removed:
    """Removed files that no snapshot holds any more are deleted for good."""
    return _drop(tx, store.hidden_unreferenced(tx, colonyname))


def delete_object(tx: Tx, now: int, caller: str, colonyname: str, sha256: str, unlink: Callable[[], bool]) -> bool:
    """Delete an embedded-store object unless a file or snapshot still refers to it.

    Runs as a writer unit so that no addfilemsg can register the object between the check and
    `unlink()`. Returns whether something was deleted."""
    security.require_member(tx, caller, colonyname)
    if store.colony_object_in_use(tx, colonyname, sha256):
        raise BadRequest("The object is still referenced by a file or a snapshot")
    return unlink()
