-- Colonies File System metadata: file versions in labels, snapshots of labels.
-- A removed file that a snapshot still references stays as a hidden row (removed = 1).

CREATE TABLE sequences (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO sequences(name, value) VALUES ('files', 0);

CREATE TABLE files (
    fileid TEXT PRIMARY KEY,
    colonyname TEXT NOT NULL REFERENCES colonies(name) ON DELETE CASCADE,
    label TEXT NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL DEFAULT 0,
    sequencenr INTEGER NOT NULL,
    checksum TEXT NOT NULL DEFAULT '',
    checksumalg TEXT NOT NULL DEFAULT '',
    ref TEXT NOT NULL,                  -- JSON reference (protocol + s3object), secrets blanked
    objectkey TEXT NOT NULL DEFAULT '', -- bucket/object, for reference counting of stored data
    added INTEGER NOT NULL,
    removed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX files_by_label ON files(colonyname, label, name, sequencenr);
CREATE INDEX files_by_object ON files(objectkey);

CREATE TABLE snapshots (
    snapshotid TEXT PRIMARY KEY,
    colonyname TEXT NOT NULL REFERENCES colonies(name) ON DELETE CASCADE,
    label TEXT NOT NULL,
    name TEXT NOT NULL,
    added INTEGER NOT NULL,
    UNIQUE (colonyname, name)
);

CREATE TABLE snapshotfiles (
    snapshotid TEXT NOT NULL REFERENCES snapshots(snapshotid) ON DELETE CASCADE,
    fileid TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (snapshotid, fileid)
);
CREATE INDEX snapshotfiles_by_file ON snapshotfiles(fileid);
