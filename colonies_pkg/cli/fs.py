"""`colonies fs …`: the Colonies File System (CFS) from the command line.

sync a directory with a label, list labels and files, show file info, get and remove files,
remove labels, and create/download/list/show/remove snapshots. File metadata lives on the
Colonies server; contents go to S3 when AWS_S3_ENDPOINT is set (AWS_S3_ACCESSKEY,
AWS_S3_SECRETKEY, AWS_S3_REGION or AWS_S3_REGION_KEY, AWS_S3_BUCKET, AWS_S3_TLS,
AWS_S3_SKIPVERIFY), else to the Colonies server's own object store.

Runnable alone for tests: `python -m colonies_pkg.cli.fs sync -l /x -d dir --yes`.
"""
from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

import msgspec

from ..config import parse_bool
from ..errors import ColoniesError
from ..models.file import File, Reference, Snapshot, normalize_label
from .common import CliError, HelpFormatter, Session, add_command, add_group, add_json, resolve_env
from .output import fmt_time, info, print_json, warn
from .table import list_table, render

if TYPE_CHECKING:  # the CFS client and object stores load with the first `fs` command that needs them
    from ..cfs import CFS, SyncPlan, Transfer
    from ..objectstore import ObjectStore, Stored
    from ..objectstore import Progress as BytesProgress  # not this module's Progress (transfer lines)

DESCRIPTION = """Manage the Colonies file system (CFS).

File metadata (labels, versions, snapshots) lives on the Colonies server; file contents go to an
object store. Directories map to labels: dir/sub/x <-> label /dir/sub, file x.
"""

S3_ENV_HELP = """object store (contents): S3 when AWS_S3_ENDPOINT is set, else the Colonies server itself
  AWS_S3_ENDPOINT     host:port of an S3-compatible endpoint (MinIO, AWS, ...)
  AWS_S3_ACCESSKEY    access key
  AWS_S3_SECRETKEY    secret key
  AWS_S3_REGION       region (AWS_S3_REGION_KEY is read too)
  AWS_S3_BUCKET       bucket (must exist)
  AWS_S3_TLS          true for HTTPS
  AWS_S3_SKIPVERIFY   true to skip TLS certificate verification
"""


# --- plumbing --------------------------------------------------------------------------------
class _NoStore:
    """For metadata-only commands: no object store is configured until one is needed."""

    def __init__(self, make: Callable[[], ObjectStore]) -> None:
        self._make = make
        self._store: ObjectStore | None = None

    def _get(self) -> ObjectStore:
        if self._store is None:
            self._store = self._make()
        return self._store

    def put_file(self, path: str, progress: BytesProgress | None = None) -> Stored:
        return self._get().put_file(path, progress)

    def get_file(self, ref: Reference, dest: str, sha256: str | None = None,
                 progress: BytesProgress | None = None) -> str:
        return self._get().get_file(ref, dest, sha256, progress)

    def exists(self, ref: Reference) -> bool:
        return self._get().exists(ref)

    def delete(self, ref: Reference) -> None:
        self._get().delete(ref)

    def owns(self, ref: Reference) -> bool:
        return self._get().owns(ref)


def _cfs(args: argparse.Namespace) -> tuple[Session, CFS]:
    from ..cfs import CFS
    from ..objectstore.router import store_from_env

    resolve_env(args)
    s = Session(args)
    colony, prvkey = s.colonyname, s.prvkey
    # the Session signs RPCs (and logs them with --verbose); it also has the host/port/tls/verify
    # that the Colonies server's object store needs
    store = _NoStore(lambda: store_from_env(s, colony, prvkey, os.environ))
    return s, CFS(s, store, colony, prvkey, warn=lambda msg: warn(msg))


def _command(fn: Callable[[argparse.Namespace], int | None]) -> Callable[[argparse.Namespace], int]:
    """Local file errors become one-line CLI errors."""

    @functools.wraps(fn)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return int(fn(args) or 0)
        except OSError as exc:
            where = f": {exc.filename}" if exc.filename else ""
            raise CliError(f"{exc.strerror or exc}{where}") from exc

    return wrapper


def fmt_bytes(n: float) -> str:
    """6B, 1.5KiB, 64.0MiB (the Go CLI's [6B] style)."""
    if n < 1024:
        return f"{int(n)}B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        n /= 1024
        if n < 1024 or unit == "TiB":
            return f"{n:.1f}{unit}"
    return f"{n}B"


def kib(n: int) -> str:
    return f"{n // 1024} KiB"


def _ask(question: str, accepted: tuple[str, ...]) -> bool:
    """Read one answer line from stdin (a pipe works too); EOF is "no"."""
    sys.stdout.write(question)
    sys.stdout.flush()
    line = sys.stdin.readline() if sys.stdin else ""
    if not sys.stdin or not sys.stdin.isatty():
        sys.stdout.write("\n")
    return line.strip() in accepted


class Progress:
    """Transfer lines: a live bar on a terminal, `Uploading /l/x ... done! [6B]` otherwise."""

    BAR = 20

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        try:
            self.tty = self.stream.isatty()
        except (AttributeError, ValueError):
            self.tty = False
        self._start = self._last = 0.0
        self._done = 0

    def _label(self, t: Transfer) -> str:
        return t.remote_name if t.action == "upload" else t.path

    def __call__(self, t: Transfer, event: str, nbytes: int) -> None:
        verb = "Uploading" if t.action == "upload" else "Downloading"
        now = time.monotonic()
        if event == "start":
            self._start, self._last, self._done = now, 0.0, 0
            return
        if event == "bytes":
            self._done += nbytes
            if self.tty and now - self._last > 0.1:
                self._last = now
                total = max(t.size, 1)
                pct = min(100, self._done * 100 // total)
                fill = self.BAR * pct // 100
                rate = self._done / max(now - self._start, 1e-6)
                bar = "=" * fill + (">" if fill < self.BAR else "") + " " * (self.BAR - fill - 1)
                self.stream.write(f"\r{verb} {self._label(t)} {pct:3d}% [{bar[:self.BAR]}] "
                                  f"{fmt_bytes(self._done)}/{fmt_bytes(t.size)} {fmt_bytes(rate)}/s\033[K")
                self.stream.flush()
            return
        elapsed = max(now - self._start, 1e-6)
        line = f"{verb} {self._label(t)} ... done! [{fmt_bytes(t.size)}]"
        if self.tty:
            line = "\r" + line + f" ({fmt_bytes(t.size / elapsed)}/s)\033[K"
        self.stream.write(line + "\n")
        self.stream.flush()


def _warn_failures(failures: list[str]) -> None:
    if failures:
        warn(f"{len(failures)} stored object(s) could not be deleted; they take space but nothing refers to them")


# --- sync ------------------------------------------------------------------------------------
def _transfer_rows(ts: list[Transfer]) -> list[list[str]]:
    return [[t.name, kib(t.size), t.label] for t in ts]


def print_sync_plans(plan: SyncPlan) -> None:
    for i, d in enumerate(plan.dirs):
        if d.empty:
            continue
        if i:
            print()
        print(d.label + ":")
        print("=" * (len(d.label) + 1))
        if d.uploads:
            print("These files will be uploaded:")
            list_table(["FILE", "SIZE", "LABEL"], _transfer_rows(d.uploads))
        else:
            print("No files will be uploaded")
        if d.downloads:
            print(f"These files will be downloaded to directory: {d.dir}")
            list_table(["FILE", "SIZE", "LABEL"], _transfer_rows(d.downloads))
        else:
            print("No files will be downloaded")
        if d.conflicts:
            print("These files will be replaced at the server:" if plan.keeplocal
                  else f"These files will be replaced at directory: {d.dir}")
            list_table(["FILE", "SIZE", "LABEL"], _transfer_rows(d.conflicts))


@_command
def _sync(args: argparse.Namespace) -> int:
    _, cfs = _cfs(args)
    info("Calculating sync plans")
    plan = cfs.sync_plan(args.label, args.dir, args.keeplocal)
    if plan.empty:
        info("Synchronizing, nothing to do, already synchronized", Label=plan.label, SyncDir=plan.local_dir)
        return 0
    info("Sync plans completed", **{"Conflict resolution": plan.resolution, "Conflicts": plan.conflicts,
                                    "Download": plan.downloads, "Upload": plan.uploads})
    if args.dry:
        print_sync_plans(plan)
        info("Dry run, nothing changed")
        return 0
    if args.syncplans:
        print_sync_plans(plan)
    if not args.yes:
        if not args.syncplans:
            info("Add --syncplans flag to view the sync plan in more detail")
        if not _ask("Are you sure you want to continue? (yes,no): ", ("yes", "y")):
            raise CliError("aborted, nothing changed")
    cfs.apply(plan, Progress())
    return 0


# --- files -----------------------------------------------------------------------------------
@_command
def _ls(args: argparse.Namespace) -> int:
    _, cfs = _cfs(args)
    label = normalize_label(args.label)
    rows: list[list[object]] = []
    found: list[dict[str, Any]] = []
    for fd in cfs.files(label):
        versions = cfs.versions(label, fd.name)
        if not versions:
            continue
        latest = versions[0]
        rows.append([fd.name, kib(latest.size), latest.fileid, fmt_time(latest.added), len(versions)])
        found.append({**msgspec.to_builtins(latest), "revisions": len(versions)})
    if args.json:
        print_json(found)
        return 0
    if not rows:
        info("No files found", Label=label)
        return 0
    list_table(["FILENAME", "SIZE", "LATEST ID", "ADDED", "REVISIONS"], rows)
    return 0


def _file_rows(f: File) -> list[tuple[str, object]]:
    o = f.ref.s3object
    endpoint = o.server if o.port <= 0 else f"{o.server}:{o.port}"
    mask = "*" * 30
    return [("Filename", f.name), ("FileId", f.fileid), ("Added", fmt_time(f.added)),
            ("Sequence Number", f.sequencenr), ("Label", f.label), ("Colony", f.colonyname),
            ("Size", kib(f.size)), ("Checksum", f.checksum), ("Checksum Alg", f.checksumalg),
            ("Protocol", f.ref.protocol), ("S3 Endpoint", endpoint), ("S3 TLS", str(o.tls).lower()),
            ("S3 Region", o.region), ("S3 Bucket", o.bucket), ("S3 Object", o.object),
            ("S3 Accesskey", mask), ("S3 Secretkey", mask), ("Encryption Key", mask),
            ("Encryption Alg", o.encryptionalg)]


def _select(cfs: CFS, args: argparse.Namespace, latest: bool) -> list[File]:
    if args.fileid:
        return [cfs.file_by_id(args.fileid)]
    if args.label and args.name:
        files = cfs.versions(args.label, args.name, latest=latest)
        if not files:
            raise CliError(f"no file {args.name} in label {normalize_label(args.label)}")
        return files
    raise CliError("give a file id (-i), or a label (-l) and a file name (-n)")


@_command
def _info(args: argparse.Namespace) -> int:
    _, cfs = _cfs(args)
    if args.json:
        print_json(msgspec.to_builtins(_select(cfs, args, latest=False)))
        return 0
    for i, f in enumerate(_select(cfs, args, latest=False)):
        if i:
            print()
        print(render(_file_rows(f)))
    return 0


@_command
def _get(args: argparse.Namespace) -> int:
    _, cfs = _cfs(args)
    f = _select(cfs, args, latest=True)[0]
    from ..cfs import Transfer

    t = Transfer("download", f.label, f.name, f.name, f.size, f.checksum)
    progress = Progress()
    progress(t, "start", 0)
    cfs.download_to_dir(f, args.dir, lambda n: progress(t, "bytes", n))
    progress(t, "done", f.size)
    return 0


@_command
def _remove(args: argparse.Namespace) -> int:
    _, cfs = _cfs(args)
    if args.fileid:
        cfs.file_by_id(args.fileid)  # an unknown id is an error, not a silent no-op
    elif not (args.label and args.name):
        raise CliError("give a file id (-i), or a label (-l) and a file name (-n)")
    elif not cfs.versions(args.label, args.name):
        raise CliError(f"no file {args.name} in label {normalize_label(args.label)}")
    failures = cfs.remove_file(fileid=args.fileid or "", label=args.label or "", name=args.name or "")
    info("Removed file (local file is not removed)", FileID=args.fileid or "",
         Label=normalize_label(args.label) if args.label else "", Name=args.name or "")
    _warn_failures(failures)
    return 0


# --- labels ----------------------------------------------------------------------------------
@_command
def _label_ls(args: argparse.Namespace) -> int:
    _, cfs = _cfs(args)
    labels = cfs.labels()
    if args.json:
        print_json(msgspec.to_builtins(labels))
        return 0
    if not labels:
        info("No labels found")
        return 0
    list_table(["LABEL", "FILES"], [[lab.name, lab.files] for lab in labels])
    return 0


@_command
def _label_remove(args: argparse.Namespace) -> int:
    _, cfs = _cfs(args)
    label = normalize_label(args.label)
    if not args.yes:
        print(f"All files with label <{label}/*> will be removed. Local files are not removed.")
        if not _ask("Are you sure you want to continue? (yes,no): ", ("yes", "y")):
            raise CliError("aborted, nothing changed")
    count, failures = cfs.remove_label(label)
    info("Label removed", Files=count, Label=label)
    _warn_failures(failures)
    return 0


# --- snapshots -------------------------------------------------------------------------------
def _print_snapshot(cfs: CFS, snap: Snapshot) -> None:
    print(render([("SnapshotId", snap.snapshotid), ("Name", snap.name), ("Label", snap.label),
                  ("Colony", snap.colonyname), ("Added", fmt_time(snap.added))]))
    files = cfs.snapshot_files(snap)
    if not files:
        warn("No files in snapshot", SnapshotName=snap.name)
        return
    list_table(["FILENAME", "FILEID", "ADDED"], [[f.name, f.fileid, fmt_time(f.added)] for f in files])


def _snapshot_of(cfs: CFS, args: argparse.Namespace) -> Snapshot:
    if not args.snapshotid and not args.name:
        raise CliError("give a snapshot id (-i) or a snapshot name (-n)")
    return cfs.snapshot(snapshotid=args.snapshotid or "", name=args.name or "")


@_command
def _snapshot_create(args: argparse.Namespace) -> int:
    _, cfs = _cfs(args)
    snap = cfs.create_snapshot(args.label, args.name)
    info("Snapshot created", Label=normalize_label(args.label) + "/", SnapshotName=args.name)
    _print_snapshot(cfs, snap)
    return 0


@_command
def _snapshot_download(args: argparse.Namespace) -> int:
    _, cfs = _cfs(args)
    snap = _snapshot_of(cfs, args)
    cfs.download_snapshot(snap, args.dir, progress=Progress())
    return 0


@_command
def _snapshot_ls(args: argparse.Namespace) -> int:
    _, cfs = _cfs(args)
    snaps = cfs.snapshots()
    if args.json:
        print_json(msgspec.to_builtins(snaps))
        return 0
    if not snaps:
        info("No snapshots found")
        return 0
    list_table(["NAME", "SNAPSHOTID", "LABEL", "FILES", "ADDED"],
               [[s.name, s.snapshotid, s.label, len(s.fileids or []), fmt_time(s.added)] for s in snaps])
    return 0


@_command
def _snapshot_info(args: argparse.Namespace) -> int:
    _, cfs = _cfs(args)
    snap = _snapshot_of(cfs, args)
    if args.json:
        print_json(msgspec.to_builtins(snap))
        return 0
    _print_snapshot(cfs, snap)
    return 0


@_command
def _snapshot_remove(args: argparse.Namespace) -> int:
    _, cfs = _cfs(args)
    snap = _snapshot_of(cfs, args)
    failures = cfs.remove_snapshot(snapshotid=snap.snapshotid)
    if args.snapshotid:
        info("Snapshot removed", SnapshotId=args.snapshotid)
    else:
        info("Snapshot removed", SnapshotName=args.name)
    _warn_failures(failures)
    return 0


@_command
def _snapshot_removeall(args: argparse.Namespace) -> int:
    s, cfs = _cfs(args)
    question = (f"WARNING!!! Are you sure you want to remove all snapshots in colony <{s.colonyname}>. "
                "This operation cannot be undone! (YES,no): ")
    if not args.yes and not _ask(question, ("YES",)):
        raise CliError("aborted, nothing changed")
    failures = cfs.remove_all_snapshots()
    info("All snapshots removed")
    _warn_failures(failures)
    return 0


# --- parser ----------------------------------------------------------------------------------
def _bool_arg(text: str) -> bool:
    value = parse_bool(text)
    if value is not None:
        return value
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _file_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-i", "--fileid", help="file id")
    p.add_argument("-l", "--label", help="label")
    p.add_argument("-n", "--name", help="file name")


def _snapshot_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-i", "--snapshotid", help="snapshot id")
    p.add_argument("-n", "--name", "--snapshotname", dest="name", help="snapshot name")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    fs = add_group(sub, "fs", "Manage the Colonies file system (CFS)", description=DESCRIPTION + "\n" + S3_ENV_HELP)

    p = add_command(fs, "sync", "Synchronize a local directory with a label", _sync,
                    description="Synchronize a directory and its sub-directories with a label and its "
                                "sub-labels.\n\n" + S3_ENV_HELP)
    p.add_argument("-l", "--label", required=True, help="label, e.g. /myfiles")
    p.add_argument("-d", "--dir", required=True, help="local directory")
    p.add_argument("--keeplocal", nargs="?", const=True, default=True, type=_bool_arg, metavar="BOOL",
                   help="on conflicts keep the local file and upload it (true) or replace it with the "
                        "remote one (false)")
    p.add_argument("--dry", action="store_true", help="show the sync plans, change nothing")
    p.add_argument("--syncplans", "--syncplan", action="store_true", help="show the sync plans in detail")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    p = add_command(fs, "ls", "List the files in a label", _ls)
    p.add_argument("-l", "--label", required=True, help="label")
    add_json(p)

    p = add_command(fs, "info", "Show information about a file (every version)", _info)
    _file_flags(p)
    add_json(p)

    p = add_command(fs, "get", "Download a file", _get, description="Download the latest version of a "
                                                                     "file, or one version by id.\n\n" + S3_ENV_HELP)
    _file_flags(p)
    p.add_argument("-d", "--dir", default=".", help="directory to download to (default: .)")

    p = add_command(fs, "remove", "Remove a file (all versions, or one by id)", _remove)
    _file_flags(p)

    labels = add_group(fs, "label", "Manage labels")
    add_json(add_command(labels, "ls", "List all labels", _label_ls))
    p = add_command(labels, "remove", "Remove every file in a label and its sub-labels", _label_remove)
    p.add_argument("-l", "--label", required=True, help="label")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    snaps = add_group(fs, "snapshot", "Manage snapshots (read-only copies of a label)")
    p = add_command(snaps, "create", "Create a snapshot of a label", _snapshot_create)
    p.add_argument("-l", "--label", required=True, help="label")
    p.add_argument("-n", "--name", "--snapshotname", dest="name", required=True, help="snapshot name")
    p = add_command(snaps, "download", "Download a snapshot", _snapshot_download)
    _snapshot_flags(p)
    p.add_argument("-d", "--dir", required=True, help="directory to download to")
    add_json(add_command(snaps, "ls", "List all snapshots", _snapshot_ls))
    p = add_command(snaps, "info", "Show a snapshot and its files", _snapshot_info)
    _snapshot_flags(p)
    add_json(p)
    p = add_command(snaps, "remove", "Remove a snapshot", _snapshot_remove)
    _snapshot_flags(p)
    p = add_command(snaps, "removeall", "Remove all snapshots of the colony", _snapshot_removeall)
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="colonies", allow_abbrev=False, formatter_class=HelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """`python -m colonies_pkg.cli.fs [fs] SUBCOMMAND ...` (the `fs` word is optional)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "fs":
        argv = ["fs", *argv]
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (CliError, ColoniesError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        hint = getattr(exc, "hint", None)
        if hint:
            print(f"Hint: {hint}", file=sys.stderr)
        return 1
    finally:
        sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
