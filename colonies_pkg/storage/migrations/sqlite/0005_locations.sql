-- Locations: named deployment sites of a colony (addlocationmsg …). Removing the colony removes them.
-- Executors and function specs refer to a location by name only (no foreign key), as in Go.

CREATE TABLE locations (
    colonyname TEXT NOT NULL REFERENCES colonies(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    locationid TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    long REAL NOT NULL DEFAULT 0,
    lat REAL NOT NULL DEFAULT 0,
    added INTEGER NOT NULL,
    PRIMARY KEY (colonyname, name)
);
