"""SQL for CFS file metadata and snapshots."""
from __future__ import annotations

import msgspec

from ..clock import format_time
from ..errors import BadRequest
from ..models.file import File, FileData, Label, Reference, Snapshot
from .db import Tx, scalar
from .rows import FileRow, SnapshotRow, columns

_ref = msgspec.json.Decoder(Reference)
_enc = msgspec.json.encode
_COLS = columns(FileRow)
_SCOLS = columns(SnapshotRow)


def to_wire(r: FileRow) -> File:
    return File(fileid=r.fileid, colonyname=r.colonyname, label=r.label, name=r.name, size=r.size,
                sequencenr=r.sequencenr, checksum=r.checksum, checksumalg=r.checksumalg,
                ref=_ref.decode(r.ref), added=format_time(r.added))


def next_sequence(tx: Tx) -> int:
    tx.run("UPDATE sequences SET value = value + 1 WHERE name = 'files'")  # also locks the row until commit
    return scalar(tx, "SELECT value FROM sequences WHERE name = 'files'")


def add(tx: Tx, f: File, objectkey: str, added: int) -> None:
    tx.run(f"INSERT INTO files({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
           (f.fileid, f.colonyname, f.label, f.name, f.size, f.sequencenr, f.checksum, f.checksumalg, _enc(f.ref),
            objectkey, added))


def by_id(tx: Tx, colonyname: str, fileid: str) -> FileRow | None:
    row = tx.one(f"SELECT {_COLS} FROM files WHERE fileid = ? AND colonyname = ?" + tx.lock, (fileid, colonyname))
    return FileRow._make(row) if row else None


def versions(tx: Tx, colonyname: str, label: str, name: str, latest: bool) -> list[FileRow]:
    limit = "LIMIT 1" if latest else ""
    return [FileRow._make(r) for r in tx.all(
        f"SELECT {_COLS} FROM files WHERE colonyname = ? AND label = ? AND name = ? AND removed = 0 "
        f"ORDER BY sequencenr DESC {limit}" + tx.lock, (colonyname, label, name))]


def latest_in_label(tx: Tx, colonyname: str, label: str) -> list[FileData]:
    rows = tx.all("SELECT name, checksum, size, ref FROM files f WHERE colonyname = ? AND label = ? AND removed = 0 "
                  "AND sequencenr = (SELECT MAX(sequencenr) FROM files g WHERE g.colonyname = f.colonyname AND "
                  "g.label = f.label AND g.name = f.name AND g.removed = 0) ORDER BY name", (colonyname, label))
    return [FileData(name=r[0], checksum=r[1], size=r[2], s3filename=_ref.decode(r[3]).s3object.object) for r in rows]


def latest_ids_under(tx: Tx, colonyname: str, label: str) -> list[str]:
    """Ids of the latest version of every file in `label` and its sub-labels."""
    rows = tx.all("SELECT fileid FROM files f WHERE colonyname = ? AND (label = ? OR label LIKE ? ESCAPE '\\') "
                  "AND removed = 0 AND sequencenr = (SELECT MAX(sequencenr) FROM files g WHERE "
                  "g.colonyname = f.colonyname AND g.label = f.label AND g.name = f.name AND g.removed = 0) "
                  "ORDER BY label, name", (colonyname, label, _under(label)))
    return [r[0] for r in rows]


MAX_LIKE_TEXT = 4096  # characters; escaped and UTF-8 encoded this stays under SQLite's 50,000-byte LIKE limit


def _like_prefix(text: str) -> str:
    """`text` as a literal LIKE prefix (wildcards escaped), refused when too long to match."""
    if len(text) > MAX_LIKE_TEXT:
        raise BadRequest(f"Label or name too long ({len(text)} characters, at most {MAX_LIKE_TEXT})")
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _under(label: str) -> str:
    """LIKE pattern of the sub-labels of `label` ("/" is the root: every label is under it)."""
    return "/%" if label == "/" else _like_prefix(label) + "/%"


def labels(tx: Tx, colonyname: str, name: str, exact: bool) -> list[Label]:
    if not name:
        rows = tx.all("SELECT label, COUNT(*) FROM files WHERE colonyname = ? AND removed = 0 GROUP BY label "
                      "ORDER BY label", (colonyname,))
    elif exact:
        rows = tx.all("SELECT label, COUNT(*) FROM files WHERE colonyname = ? AND removed = 0 AND "
                      "(label = ? OR label LIKE ? ESCAPE '\\') GROUP BY label ORDER BY label",
                      (colonyname, name, _under(name)))
    else:
        rows = tx.all("SELECT label, COUNT(*) FROM files WHERE colonyname = ? AND removed = 0 AND "
                      "label LIKE ? ESCAPE '\\' GROUP BY label ORDER BY label", (colonyname, _like_prefix(name) + "%"))
    return [Label(name=r[0], files=r[1]) for r in rows]


def is_snapshotted(tx: Tx, fileid: str) -> bool:
    return tx.one("SELECT 1 FROM snapshotfiles WHERE fileid = ? LIMIT 1", (fileid,)) is not None


def hide(tx: Tx, fileid: str) -> None:
    tx.run("UPDATE files SET removed = 1 WHERE fileid = ?", (fileid,))


def delete(tx: Tx, fileid: str) -> None:
    tx.run("DELETE FROM files WHERE fileid = ?", (fileid,))


def object_in_use(tx: Tx, objectkey: str) -> bool:
    return tx.one("SELECT 1 FROM files WHERE objectkey = ? LIMIT 1", (objectkey,)) is not None


def hidden_unreferenced(tx: Tx, colonyname: str) -> list[FileRow]:
    return [FileRow._make(r) for r in tx.all(
        f"SELECT {_COLS} FROM files f WHERE colonyname = ? AND removed = 1 AND NOT EXISTS "
        "(SELECT 1 FROM snapshotfiles s WHERE s.fileid = f.fileid)", (colonyname,))]


# --- snapshots --------------------------------------------------------------------------------
def add_snapshot(tx: Tx, snapshotid: str, colonyname: str, label: str, name: str, fileids: list[str], added: int) -> None:
    tx.run("INSERT INTO snapshots(snapshotid, colonyname, label, name, added) VALUES (?, ?, ?, ?, ?)",
           (snapshotid, colonyname, label, name, added))
    if fileids:
        tx.many("INSERT INTO snapshotfiles(snapshotid, fileid, position) VALUES (?, ?, ?)",
                [(snapshotid, fid, i) for i, fid in enumerate(fileids)])


def snapshot_row(tx: Tx, colonyname: str, snapshotid: str = "", name: str = "") -> SnapshotRow | None:
    if snapshotid:
        row = tx.one(f"SELECT {_SCOLS} FROM snapshots WHERE colonyname = ? AND snapshotid = ?", (colonyname, snapshotid))
    else:
        row = tx.one(f"SELECT {_SCOLS} FROM snapshots WHERE colonyname = ? AND name = ?", (colonyname, name))
    return SnapshotRow._make(row) if row else None


def snapshot_wire(tx: Tx, row: SnapshotRow) -> Snapshot:
    ids = [r[0] for r in tx.all("SELECT fileid FROM snapshotfiles WHERE snapshotid = ? ORDER BY position",
                                (row.snapshotid,))]
    return Snapshot(snapshotid=row.snapshotid, colonyname=row.colonyname, label=row.label, name=row.name,
                    fileids=ids, added=format_time(row.added))


def snapshots(tx: Tx, colonyname: str) -> list[SnapshotRow]:
    return [SnapshotRow._make(r) for r in tx.all(
        f"SELECT {_SCOLS} FROM snapshots WHERE colonyname = ? ORDER BY added DESC, rowid DESC", (colonyname,))]


def remove_snapshot(tx: Tx, snapshotid: str) -> None:
    tx.run("DELETE FROM snapshots WHERE snapshotid = ?", (snapshotid,))


def colony_object_in_use(tx: Tx, colonyname: str, obj: str) -> bool:
    return tx.one("SELECT 1 FROM files WHERE colonyname = ? AND objectkey LIKE ? ESCAPE '\\' LIMIT 1",
                  (colonyname, "%/" + _like_prefix(obj))) is not None
