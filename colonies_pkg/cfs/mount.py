"""The executor side of CFS (layer L5): a process's `spec.fs` mounted around its run.

`run_with_fs(...)` syncs each `fs.dirs` label into the process's mount directory before it runs
(respecting `onconflicts.onstart`), downloads `fs.snapshots` read-only, and after a successful run
syncs the dirs back (`onconflicts.onclose`) and removes local files unless `keepfiles`. A spec's
mount path is never used as a host path: each process gets a fresh directory under the executor's
root, and `Mount.resolve` / `Mount.translate` map spec paths such as "/cfs/x" onto it.
"""
from __future__ import annotations

import os
import shutil
import stat
import sys
import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from ..config import env_bool
from ..errors import ColoniesError
from ..models.file import Snapshot, normalize_label
from ..models.process import FunctionSpec
from ..objectstore import ObjectStore
from . import CFS, CFSError, Logger


def _bool(value: Any, default: bool) -> bool:
    """A spec flag: JSON true/false, or a string as in the environment."""
    if value is None:
        return default
    if isinstance(value, str):
        return env_bool(value, default)
    return bool(value)


def _rel_dir(text: str, what: str) -> str:
    """A spec directory as a safe path relative to the mount ("/myfiles" → "myfiles")."""
    parts = [p for p in str(text).replace("\\", "/").split("/") if p not in ("", ".")]
    if any(p == ".." or "\x00" in p for p in parts):
        raise CFSError(f"unsafe {what} {text!r} in the fs spec: '..' is not allowed")
    return os.path.join(*parts) if parts else ""


@dataclass
class DirMount:
    label: str
    dir: str
    keepfiles: bool = False
    onstart_keeplocal: bool = False  # at start the remote wins: the process sees the label's files
    onclose_keeplocal: bool = True  # at close the local wins: the process's output is uploaded


@dataclass
class SnapshotMount:
    snapshotid: str = ""  # an existing snapshot (id, or name); else one is made of `label`
    label: str = ""
    dir: str = ""
    keepfiles: bool = False
    keepsnapshot: bool = False  # only for snapshots this executor created from `label`


@dataclass
class FsSpec:
    mount: str = "/cfs"
    dirs: list[DirMount] = field(default_factory=list)
    snapshots: list[SnapshotMount] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.dirs and not self.snapshots

    @classmethod
    def parse(cls, fs: Any) -> FsSpec:
        """Both the object form (seed 002: lists of dicts) and pycolonies' lists of strings
        ("label" or "label:dir" for dirs, "snapshot" or "snapshot:dir" for snapshots)."""
        if fs is None:
            return cls()
        if not isinstance(fs, Mapping):
            fs = msgspec.to_builtins(fs)
        spec = cls(mount=str(fs.get("mount") or "/cfs"))
        for entry in fs.get("dirs") or []:
            if isinstance(entry, str):
                label, _, folder = entry.partition(":")
                spec.dirs.append(DirMount(normalize_label(label), _rel_dir(folder or label, "dir")))
                continue
            label = entry.get("label") or ""
            if not label:
                raise CFSError("an fs.dirs entry has no label")
            conflicts = entry.get("onconflicts") or {}
            spec.dirs.append(DirMount(
                normalize_label(label), _rel_dir(entry.get("dir") or label, "dir"),
                _bool(entry.get("keepfiles"), False),
                _bool((conflicts.get("onstart") or {}).get("keeplocal"), False),
                _bool((conflicts.get("onclose") or {}).get("keeplocal"), True)))
        for entry in fs.get("snapshots") or []:
            if isinstance(entry, str):
                sid, _, folder = entry.partition(":")
                spec.snapshots.append(SnapshotMount(snapshotid=sid, dir=_rel_dir(folder or sid, "dir")))
                continue
            sid, label = entry.get("snapshotid") or "", entry.get("label") or ""
            if not sid and not label:
                raise CFSError("an fs.snapshots entry has neither a snapshotid nor a label")
            spec.snapshots.append(SnapshotMount(
                sid, normalize_label(label) if label else "", _rel_dir(entry.get("dir") or label or sid, "dir"),
                _bool(entry.get("keepfiles"), False), _bool(entry.get("keepsnapshot"), False)))
        return spec


@dataclass
class Mount:
    """Where a process's CFS mount lives on this machine.

    `path` is the real directory; `name` is the mount point the spec asked for (e.g. "/cfs").
    Spec paths are never used as host paths (a spec comes from any colony member, and "/etc"
    must not become writable through it): `resolve("/cfs/myfiles/x")` → `<path>/myfiles/x`.
    """

    path: str
    name: str = "/cfs"

    def resolve(self, value: str) -> str:
        mount = "/" + self.name.strip("/")
        if value == mount:
            return self.path
        if mount != "/" and value.startswith(mount + "/"):
            return os.path.join(self.path, _rel_dir(value[len(mount) + 1:], "path"))
        return value

    def translate(self, values: list[Any]) -> list[Any]:
        """Args with spec paths ("/cfs/...") replaced by real paths; other values unchanged."""
        return [self.resolve(v) if isinstance(v, str) else v for v in values]

    def env(self) -> dict[str, str]:
        return {MOUNT_ENV: self.path, MOUNT_NAME_ENV: self.name}


MOUNT_ENV = "COLONIES_CFS_MOUNT"  # the real mount directory, for functions and subprocesses
MOUNT_NAME_ENV = "COLONIES_CFS_MOUNT_NAME"  # the mount point the spec named (e.g. /cfs)


class ProcessFS:
    """The CFS mount of one process: `open()` before it runs, `close(success)` after."""

    def __init__(self, cfs: CFS, spec: FsSpec, root: str | None, processid: str = "",
                 log: Logger | None = None) -> None:
        self.cfs, self.spec, self.processid = cfs, spec, processid or uuid.uuid4().hex
        self.root = root
        self.log: Logger = log or (lambda msg: None)
        self.mount: Mount | None = None
        self._created_snapshots: list[tuple[SnapshotMount, str]] = []

    def open(self) -> Mount:
        if self.root:
            os.makedirs(self.root, exist_ok=True)
            path = tempfile.mkdtemp(prefix=f"{self.processid[:16]}-", dir=self.root)
        else:
            path = tempfile.mkdtemp(prefix=f"colonies-cfs-{self.processid[:16]}-")
        self.mount = Mount(path, self.spec.mount)
        try:
            for d in self.spec.dirs:
                target = os.path.join(path, d.dir)
                plan = self.cfs.sync_plan(d.label, target, d.onstart_keeplocal)
                moved = self.cfs.apply(plan)
                self.log(f"CFS: {d.label} -> {self.spec.mount.rstrip('/')}/{d.dir.replace(os.sep, '/')} "
                         f"({moved} files synced)\n")
            for s in self.spec.snapshots:
                snap = self._snapshot(s)
                files = self.cfs.download_snapshot(snap, os.path.join(path, s.dir), readonly=True)
                self.log(f"CFS: snapshot {snap.name} -> {self.spec.mount.rstrip('/')}/{s.dir} "
                         f"({len(files)} files, read-only)\n")
        except BaseException:
            self._cleanup()
            raise
        return self.mount

    def _snapshot(self, s: SnapshotMount) -> Snapshot:
        if s.snapshotid:
            try:
                return self.cfs.snapshot(snapshotid=s.snapshotid)
            except ColoniesError:
                try:
                    return self.cfs.snapshot(name=s.snapshotid)
                except ColoniesError as exc:
                    raise CFSError(f"no snapshot with id or name {s.snapshotid!r}") from exc
        name = f"process-{self.processid}-{uuid.uuid4().hex[:8]}"
        snap = self.cfs.create_snapshot(s.label, name)
        self._created_snapshots.append((s, snap.snapshotid))
        return snap

    def close(self, success: bool = True) -> None:
        """Sync dirs back (only after a successful run, unless told otherwise), then clean up."""
        assert self.mount is not None, "open() first"
        try:
            if success:
                for d in self.spec.dirs:
                    target = os.path.join(self.mount.path, d.dir)
                    plan = self.cfs.sync_plan(d.label, target, d.onclose_keeplocal)
                    # the local copy is deleted right after, so downloading into it is pointless
                    moved = self.cfs.apply(plan, downloads=d.keepfiles)
                    self.log(f"CFS: {self.spec.mount.rstrip('/')}/{d.dir.replace(os.sep, '/')} -> {d.label} "
                             f"({moved} files synced)\n")
        finally:
            self._cleanup()

    def _cleanup(self) -> None:
        for s, snapshotid in self._created_snapshots:
            if not s.keepsnapshot:
                try:
                    self.cfs.remove_snapshot(snapshotid=snapshotid)
                except ColoniesError as exc:
                    self.log(f"CFS: could not remove snapshot {snapshotid}: {exc}\n")
        self._created_snapshots.clear()
        if self.mount is None:
            return
        kept = [d.dir for d in self.spec.dirs if d.keepfiles] + [s.dir for s in self.spec.snapshots if s.keepfiles]
        if not kept:
            _rmtree(self.mount.path)
            return
        entries = [(d.dir, d.keepfiles) for d in self.spec.dirs] + [(s.dir, s.keepfiles) for s in self.spec.snapshots]
        for rel, keep in entries:
            holds_kept = any(k == rel or rel == "" or k.startswith(rel + os.sep) for k in kept)
            if not keep and not holds_kept:
                _rmtree(os.path.join(self.mount.path, rel))


def _rmtree(path: str) -> None:
    """Remove a mount directory, also when the process left read-only directories in it."""

    def retry(func: Callable[..., Any], p: str, _exc: Any) -> None:
        parent = os.path.dirname(p)
        os.chmod(parent, os.stat(parent).st_mode | stat.S_IWUSR)
        func(p)

    if os.path.isdir(path):
        if sys.version_info >= (3, 12):
            shutil.rmtree(path, onexc=retry)
        else:
            shutil.rmtree(path, onerror=retry)


def mount_process_fs(cfs: CFS, process_spec_fs: Any, root: str | None = None, processid: str = "",
                     log: Logger | None = None) -> ProcessFS:
    """Mount a process's `spec.fs` (dirs synced down, snapshots downloaded read-only); call
    `.close(success)` on the result when the process has ended."""
    pfs = ProcessFS(cfs, FsSpec.parse(process_spec_fs), root, processid, log)
    pfs.open()
    return pfs


def run_with_fs(client: Any, store_factory: Callable[[], ObjectStore], colonyname: str, prvkey: str,
                spec: FunctionSpec | Mapping[str, Any] | None, run: Callable[[Mount | None], Any], *, processid: str = "",
                root: str | None = None, log: Logger | None = None, sync_on_failure: bool = False) -> Any:
    """Run `run(mount)` inside the process's CFS mount; `run(None)` when the spec mounts nothing.

    Before: every `fs.dirs` label is synced into `<mount>/<dir>` and every `fs.snapshots` entry is
    downloaded read-only. After a successful run the dirs are synced back (a failed run uploads
    nothing unless `sync_on_failure`), then local files are removed unless `keepfiles`. A failure
    to sync back fails the run: its outputs would otherwise be lost silently.

    `root` is the executor's mount root (e.g. `<data-dir>/cfs-mounts`); each process gets a fresh
    directory under it (a temp directory when `root` is None). `store_factory` is called only if
    the spec mounts something.
    """
    fs = FsSpec.parse(spec.fs if isinstance(spec, FunctionSpec) else (spec or {}).get("fs"))
    if fs.empty:
        return run(None)
    cfs = CFS(client, store_factory(), colonyname, prvkey, warn=(lambda m: log(m + "\n")) if log else None)
    pfs = ProcessFS(cfs, fs, root, processid, log)
    mount = pfs.open()
    try:
        result = run(mount)
    except BaseException:
        try:
            pfs.close(success=sync_on_failure)
        except Exception as exc:
            if log:
                log(f"CFS: cleanup after a failed run: {exc}\n")
        raise
    pfs.close(success=True)
    return result
