-- Blueprints (CHANNELS_BLUEPRINTS §3): kinds declared by definitions, instances of those kinds, and
-- the change history of instances. Each row keeps the whole JSON document in `data`; the other
-- columns are its lookup keys. Everything goes with its colony.

CREATE TABLE blueprintdefinitions (
    blueprintdefinitionid TEXT PRIMARY KEY,
    colonyname TEXT NOT NULL REFERENCES colonies(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT '',      -- spec.names.kind: the kind its instances declare
    data TEXT NOT NULL,
    UNIQUE (colonyname, name)
);
CREATE INDEX blueprintdefinitions_by_kind ON blueprintdefinitions(colonyname, kind);

CREATE TABLE blueprints (
    blueprintid TEXT PRIMARY KEY,
    colonyname TEXT NOT NULL REFERENCES colonies(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    locationname TEXT NOT NULL DEFAULT '',
    data TEXT NOT NULL,
    UNIQUE (colonyname, name)
);
CREATE INDEX blueprints_by_kind ON blueprints(colonyname, kind, locationname);

CREATE TABLE blueprinthistory (
    id INTEGER PRIMARY KEY AUTOINCREMENT,   -- insertion order: newest first = highest id
    historyid TEXT NOT NULL UNIQUE,
    blueprintid TEXT NOT NULL,              -- kept after the blueprint is removed, as in Go
    colonyname TEXT NOT NULL REFERENCES colonies(name) ON DELETE CASCADE,
    data TEXT NOT NULL
);
CREATE INDEX blueprinthistory_by_blueprint ON blueprinthistory(blueprintid, id);
