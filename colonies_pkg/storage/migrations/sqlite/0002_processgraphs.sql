-- Workflows: one row per process graph; its processes carry processgraphid.

CREATE TABLE processgraphs (
    processgraphid TEXT PRIMARY KEY,
    colonyname TEXT NOT NULL REFERENCES colonies(name) ON DELETE CASCADE,
    initiatorid TEXT NOT NULL DEFAULT '',
    initiatorname TEXT NOT NULL DEFAULT '',
    rootprocessids TEXT NOT NULL DEFAULT '[]',
    state INTEGER NOT NULL DEFAULT 0,
    submissiontime INTEGER NOT NULL,
    starttime INTEGER NOT NULL DEFAULT 0,
    endtime INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX processgraphs_by_state ON processgraphs(colonyname, state, submissiontime);
