"""CFS shapes: File, FileData, Label, Snapshot (PROTOCOL §5.10)."""
from __future__ import annotations

import msgspec

from .ints import Int64


def normalize_label(label: str | None) -> str:
    """A CFS label as stored: exactly one leading "/" and no trailing "/" (as pycolonies normalises)."""
    return "/" + (label or "").strip().strip("/")


class S3Object(msgspec.Struct):
    server: str = ""
    port: Int64 = 0
    tls: bool = False
    accesskey: str = ""
    secretkey: str = ""
    region: str = ""
    encryptionkey: str = ""
    encryptionalg: str = ""
    object: str = ""
    bucket: str = ""


class Reference(msgspec.Struct):
    protocol: str = ""
    s3object: S3Object = msgspec.field(default_factory=S3Object)


class File(msgspec.Struct):
    fileid: str = ""
    colonyname: str = ""
    label: str = ""
    name: str = ""
    size: Int64 = 0
    sequencenr: Int64 = 0
    checksum: str = ""
    checksumalg: str = ""
    ref: Reference = msgspec.field(default_factory=Reference)
    added: str = "0001-01-01T00:00:00Z"


class FileData(msgspec.Struct):
    name: str
    checksum: str
    size: Int64
    s3filename: str


class Label(msgspec.Struct):
    name: str
    files: Int64


class Snapshot(msgspec.Struct):
    snapshotid: str
    colonyname: str
    label: str
    name: str
    fileids: list[str]
    added: str
