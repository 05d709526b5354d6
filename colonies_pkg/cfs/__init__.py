"""Colonies File System client (layer L5, beside `client.py`): file metadata through the Colonies
RPC API, contents through an `ObjectStore`; sync plans. The executor side (`run_with_fs`) is in
`cfs/mount.py`.

Rules that keep metadata honest:
* upload first, register second: `addfilemsg` is sent only after the store holds the content,
  so a failed upload registers nothing (and an object this upload created is removed again);
* delete only what the server says is unreferenced: removals reply with the objects that no
  file or snapshot refers to any more, and only those are deleted from the store;
* never write outside the target directory: names and sub-labels from the server that are not
  plain path segments ("..", ".", "a\\b", ...) are skipped with a warning.

Directories map to labels: `<dir>/sub/x` ↔ label `<label>/sub`, file `x`. A sync plan compares the
local files (SHA-256) with the latest remote version of each name; a name that differs is a
conflict, resolved by `keeplocal` (True: upload the local file as a new version, False: replace
the local file with the remote one). Nothing is ever deleted by a sync.
"""
from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from ..errors import BadRequest, ColoniesError, NotFound
from ..models.file import File, FileData, Label, Reference, Snapshot, normalize_label
from ..objectstore import TMP_PREFIX, ObjectStore, ObjectStoreError, sha256_file


class CFSError(ColoniesError):
    """Colonies file system error"""


# progress(transfer, event, nbytes): event is "start", "bytes" (nbytes just moved) or "done"
TransferProgress = Callable[["Transfer", str, int], None]
Logger = Callable[[str], None]


def safe_segment(name: str) -> bool:
    """A name that is one plain path segment on every OS we write to."""
    return bool(name) and name not in (".", "..") and not any(c in name for c in "/\\\x00")


def sub_label_dir(base: str, label: str) -> str | None:
    """The relative directory of `label` under `base` ("" for base itself); None when unsafe."""
    if label == base:
        return ""
    prefix = "/" if base == "/" else base + "/"
    if not label.startswith(prefix):
        return None
    parts = label[len(prefix):].split("/")
    return os.path.join(*parts) if all(safe_segment(p) for p in parts) else None


def _file(obj: Any) -> File:
    return msgspec.convert(obj, File)


@dataclass
class Transfer:
    """One file to move: `action` is "upload" or "download"."""

    action: str
    label: str
    name: str
    path: str
    size: int
    checksum: str
    conflict: bool = False

    @property
    def remote_name(self) -> str:
        return f"{self.label.rstrip('/')}/{self.name}"


@dataclass
class DirPlan:
    """The plan for one label ↔ one local directory."""

    label: str
    dir: str
    uploads: list[Transfer] = field(default_factory=list)  # missing remotely
    downloads: list[Transfer] = field(default_factory=list)  # missing locally
    conflicts: list[Transfer] = field(default_factory=list)  # differ; action set by keeplocal

    @property
    def empty(self) -> bool:
        return not (self.uploads or self.downloads or self.conflicts)


@dataclass
class SyncPlan:
    label: str
    local_dir: str
    keeplocal: bool
    dirs: list[DirPlan]
    cfs: CFS
    warnings: list[str] = field(default_factory=list)

    @property
    def uploads(self) -> int:
        return sum(len(d.uploads) for d in self.dirs)

    @property
    def downloads(self) -> int:
        return sum(len(d.downloads) for d in self.dirs)

    @property
    def conflicts(self) -> int:
        return sum(len(d.conflicts) for d in self.dirs)

    @property
    def empty(self) -> bool:
        return all(d.empty for d in self.dirs)

    @property
    def resolution(self) -> str:
        return "replace-remote" if self.keeplocal else "replace-local"

    def transfers(self, downloads: bool = True) -> list[Transfer]:
        """Uploads, then downloads, then conflicts, per directory (the Go CLI's order)."""
        out: list[Transfer] = []
        for d in self.dirs:
            out += d.uploads
            if downloads:
                out += d.downloads
            out += [t for t in d.conflicts if downloads or t.action == "upload"]
        return out


class CFS:
    """The CFS operations of one colony member (`prvkey`) against one server and object store."""

    def __init__(self, client: Any, store: ObjectStore, colonyname: str, prvkey: str,
                 warn: Logger | None = None) -> None:
        self.client, self.store, self.colonyname, self.prvkey = client, store, colonyname, prvkey
        self.warn: Logger = warn or (lambda msg: None)

    def _rpc(self, msg: dict[str, Any]) -> Any:
        return self.client.rpc(msg, self.prvkey)

    # --- metadata ---------------------------------------------------------------------------
    def labels(self, name: str = "", exact: bool = False) -> list[Label]:
        """All labels (no name), labels starting with `name`, or (`exact`) `name` and its sub-labels."""
        name = normalize_label(name) if name else ""
        if name == "/":  # every label is under the root; the server's "/" + "/%" pattern misses them
            name, exact = "", False
        reply = self._rpc({"msgtype": "getfilelabelsmsg", "colonyname": self.colonyname, "name": name,
                           "exact": exact})
        return msgspec.convert(reply or [], list[Label])

    def files(self, label: str) -> list[FileData]:
        """The latest version of every file name in exactly `label`."""
        reply = self._rpc({"msgtype": "getfilesmsg", "colonyname": self.colonyname,
                           "label": normalize_label(label)})
        return msgspec.convert(reply or [], list[FileData])

    def versions(self, label: str, name: str, latest: bool = False) -> list[File]:
        """All versions of a file, newest first (or only the latest); [] when there is none."""
        try:
            reply = self._rpc({"msgtype": "getfilemsg", "colonyname": self.colonyname, "fileid": "",
                               "label": normalize_label(label), "name": name, "latest": latest})
        except NotFound:
            return []
        return [_file(f) for f in reply or []]

    def latest(self, label: str, name: str) -> File:
        found = self.versions(label, name, latest=True)
        if not found:
            raise CFSError(f"no file {name} in label {normalize_label(label)}")
        return found[0]

    def file_by_id(self, fileid: str) -> File:
        try:
            reply = self._rpc({"msgtype": "getfilemsg", "colonyname": self.colonyname, "fileid": fileid,
                               "label": "", "name": "", "latest": False})
        except (NotFound, BadRequest) as exc:
            raise CFSError(f"no file with id {fileid}") from exc
        if not reply:
            raise CFSError(f"no file with id {fileid}")
        return _file(reply[0])

    # --- data -------------------------------------------------------------------------------
    def upload(self, path: str, label: str, name: str | None = None,
               progress: Callable[[int], None] | None = None) -> File:
        """Store `path`'s content, then register it as a new version of `label`/`name`."""
        name = name if name is not None else os.path.basename(path)
        if not safe_segment(name):
            raise CFSError(f"invalid file name {name!r}")
        stored = self.store.put_file(path, progress)
        file = File(colonyname=self.colonyname, label=normalize_label(label), name=name, size=stored.size,
                    checksum=stored.sha256, checksumalg="SHA256", ref=stored.ref)
        try:
            reply = self._rpc({"msgtype": "addfilemsg", "file": msgspec.to_builtins(file)})
        except BaseException:
            if stored.created:  # nothing refers to what we just stored: take it back
                with contextlib.suppress(ObjectStoreError, OSError):
                    self.store.delete(stored.ref)
            raise
        if not stored.created and not self.store.exists(stored.ref):
            # The content was already stored, but another client deleted it as unreferenced
            # between our put and our registration: store it again (it is referenced now).
            self.store.put_file(path)
        return _file(reply)

    def download(self, file: File, dest: str, progress: Callable[[int], None] | None = None) -> str:
        """Fetch `file` to the path `dest` (verified against its checksum); returns `dest`."""
        expected = file.checksum if file.checksumalg.upper() in ("SHA256", "SHA-256", "") else None
        self.store.get_file(file.ref, dest, expected or None, progress)
        return dest

    def download_to_dir(self, file: File, dest_dir: str, progress: Callable[[int], None] | None = None) -> str:
        if not safe_segment(file.name):
            raise CFSError(f"refusing to write a file named {file.name!r}")
        return self.download(file, os.path.join(dest_dir, file.name), progress)

    def delete_unreferenced(self, refs: list[Any]) -> list[str]:
        """Delete objects the server reported as unreferenced; returns failure messages."""
        failures: list[str] = []
        for raw in refs or []:
            ref = msgspec.convert(raw, Reference) if not isinstance(raw, Reference) else raw
            try:
                self.store.delete(ref)
            except (ObjectStoreError, OSError) as exc:
                msg = f"could not delete stored object {ref.s3object.object}: {exc}"
                failures.append(msg)
                self.warn(msg)
        return failures

    def remove_file(self, fileid: str = "", label: str = "", name: str = "") -> list[str]:
        """Remove one version (by id) or every version of label/name; returns store failures."""
        if not fileid and not (label and name):
            raise CFSError("give a file id, or a label and a name")
        reply = self._rpc({"msgtype": "removefilemsg", "colonyname": self.colonyname, "fileid": fileid,
                           "label": normalize_label(label) if label else "", "name": name})
        return self.delete_unreferenced((reply or {}).get("unreferenced") or [])

    def remove_label(self, label: str) -> tuple[int, list[str]]:
        """Remove every file in `label` and its sub-labels; returns (files, store failures)."""
        count, failures = 0, []
        for lab in self.labels(label, exact=True):
            for fd in self.files(lab.name):
                failures += self.remove_file(label=lab.name, name=fd.name)
                count += 1
        return count, failures

    # --- snapshots --------------------------------------------------------------------------
    def create_snapshot(self, label: str, name: str) -> Snapshot:
        reply = self._rpc({"msgtype": "createsnapshotmsg", "colonyname": self.colonyname,
                           "label": normalize_label(label), "name": name})
        return msgspec.convert(reply, Snapshot)

    def snapshot(self, snapshotid: str = "", name: str = "") -> Snapshot:
        if not snapshotid and not name:
            raise CFSError("give a snapshot id or a snapshot name")
        reply = self._rpc({"msgtype": "getsnapshotmsg", "colonyname": self.colonyname,
                           "snapshotid": snapshotid, "name": "" if snapshotid else name})
        return msgspec.convert(reply, Snapshot)

    def snapshots(self) -> list[Snapshot]:
        reply = self._rpc({"msgtype": "getsnapshotsmsg", "colonyname": self.colonyname})
        return msgspec.convert(reply or [], list[Snapshot])

    def remove_snapshot(self, snapshotid: str = "", name: str = "") -> list[str]:
        if not snapshotid and not name:
            raise CFSError("give a snapshot id or a snapshot name")
        reply = self._rpc({"msgtype": "removesnapshotmsg", "colonyname": self.colonyname,
                           "snapshotid": snapshotid, "name": "" if snapshotid else name})
        return self.delete_unreferenced((reply or {}).get("unreferenced") or [])

    def remove_all_snapshots(self) -> list[str]:
        reply = self._rpc({"msgtype": "removeallsnapshotmsg", "colonyname": self.colonyname})
        return self.delete_unreferenced((reply or {}).get("unreferenced") or [])

    def snapshot_files(self, snapshot: Snapshot) -> list[File]:
        return [self.file_by_id(fid) for fid in snapshot.fileids or []]

    def download_snapshot(self, snapshot: Snapshot, dest_dir: str, readonly: bool = False,
                          progress: TransferProgress | None = None) -> list[str]:
        """Download every file of `snapshot` (sub-labels become sub-directories); files that are
        already there with the right content are kept. Returns the local paths."""
        paths: list[str] = []
        for f in self.snapshot_files(snapshot):
            rel = sub_label_dir(snapshot.label, f.label)
            if rel is None or not safe_segment(f.name):
                self.warn(f"skipping {f.label}/{f.name}: not a safe local path")
                continue
            path = os.path.join(dest_dir, rel, f.name)
            if not (os.path.isfile(path) and sha256_file(path)[0] == f.checksum):
                t = Transfer("download", f.label, f.name, path, f.size, f.checksum)
                _run_transfer(t, progress, functools.partial(self.download, f, path))
            if readonly:
                os.chmod(path, 0o444)
            paths.append(path)
        return paths

    # --- sync -------------------------------------------------------------------------------
    def sync_plan(self, label: str, local_dir: str, keeplocal: bool) -> SyncPlan:
        """Compare `local_dir` (and its sub-directories) with `label` (and its sub-labels)."""
        base = normalize_label(label)
        local_dir = os.path.abspath(local_dir)
        plan = SyncPlan(base, local_dir, keeplocal, [], self)
        dirs: dict[str, str] = {}  # label -> local directory
        if os.path.isdir(local_dir):
            for dirpath, dirnames, _ in os.walk(local_dir, followlinks=False):
                dirnames.sort()
                rel = os.path.relpath(dirpath, local_dir)
                parts = [] if rel == "." else rel.split(os.sep)
                dirs[normalize_label("/".join([base.strip("/"), *parts]))] = dirpath
        for lab in self.labels(base, exact=True):
            if lab.name in dirs:
                continue
            sub = sub_label_dir(base, lab.name)
            if sub is None:
                plan.warnings.append(f"skipping label {lab.name}: it does not map to a safe local directory")
                continue
            dirs[lab.name] = os.path.join(local_dir, sub)
        dirs.setdefault(base, local_dir)
        for lab_name in sorted(dirs):
            plan.dirs.append(self._dir_plan(lab_name, dirs[lab_name], keeplocal, plan.warnings))
        for w in plan.warnings:
            self.warn(w)
        return plan

    def _dir_plan(self, label: str, folder: str, keeplocal: bool, warnings: list[str]) -> DirPlan:
        local: dict[str, tuple[str, int]] = {}
        if os.path.isdir(folder):
            for entry in sorted(os.scandir(folder), key=lambda e: e.name):
                if entry.name.startswith(TMP_PREFIX) or not entry.is_file(follow_symlinks=False):
                    continue
                local[entry.name] = sha256_file(entry.path)
        remote = {fd.name: fd for fd in self.files(label)}
        d = DirPlan(label, folder)
        for name, (sha, size) in local.items():
            if name not in remote:
                d.uploads.append(Transfer("upload", label, name, os.path.join(folder, name), size, sha))
        for name, fd in sorted(remote.items()):
            if not safe_segment(name):
                warnings.append(f"skipping {label}/{name}: not a safe local file name")
                continue
            path = os.path.join(folder, name)
            if name not in local:
                d.downloads.append(Transfer("download", label, name, path, fd.size, fd.checksum))
            elif local[name][0] != fd.checksum:
                if keeplocal:
                    d.conflicts.append(Transfer("upload", label, name, path, local[name][1], local[name][0], True))
                else:
                    d.conflicts.append(Transfer("download", label, name, path, fd.size, fd.checksum, True))
        return d

    def apply(self, plan: SyncPlan, progress: TransferProgress | None = None, downloads: bool = True) -> int:
        """Carry out a plan; returns the number of files moved. Stops at the first error."""
        os.makedirs(plan.local_dir, exist_ok=True)
        moved = 0
        for t in plan.transfers(downloads):
            if t.action == "upload":
                _run_transfer(t, progress, functools.partial(self.upload, t.path, t.label, t.name))
            else:
                remote = self.latest(t.label, t.name)
                t.size, t.checksum = remote.size, remote.checksum
                _run_transfer(t, progress, functools.partial(self.download, remote, t.path))
            moved += 1
        return moved


def _run_transfer(t: Transfer, progress: TransferProgress | None, fn: Callable[[Any], Any]) -> Any:
    if progress is None:
        return fn(None)
    progress(t, "start", 0)
    result = fn(lambda n: progress(t, "bytes", n))
    progress(t, "done", t.size)
    return result


# module-level helpers with the shapes executor authors asked for ------------------------------
def sync_plan(client: Any, store: ObjectStore, colonyname: str, prvkey: str, label: str, local_dir: str,
              keeplocal: bool) -> SyncPlan:
    return CFS(client, store, colonyname, prvkey).sync_plan(label, local_dir, keeplocal)


def apply(plan: SyncPlan, progress: TransferProgress | None = None) -> int:
    return plan.cfs.apply(plan, progress)
