-- PostgreSQL twin of migrations/sqlite/0002_processgraphs.sql.
-- Workflows: one row per process graph; its processes carry processgraphid.

CREATE TABLE processgraphs (
    processgraphid TEXT PRIMARY KEY,
    colonyname TEXT NOT NULL REFERENCES colonies(name) ON DELETE CASCADE,
    initiatorid TEXT NOT NULL DEFAULT '',
    initiatorname TEXT NOT NULL DEFAULT '',
    rootprocessids TEXT NOT NULL DEFAULT '[]',
    state BIGINT NOT NULL DEFAULT 0,
    submissiontime BIGINT NOT NULL,
    starttime BIGINT NOT NULL DEFAULT 0,
    endtime BIGINT NOT NULL DEFAULT 0,
    rowid BIGSERIAL NOT NULL
);
CREATE INDEX processgraphs_by_state ON processgraphs(colonyname, state, submissiontime);
