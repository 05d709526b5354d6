-- PostgreSQL twin of migrations/sqlite/0003_crons_generators.sql.
-- Crons (timed workflows) and generators (workflows triggered by packed arguments).

CREATE TABLE crons (
    cronid TEXT PRIMARY KEY,
    colonyname TEXT NOT NULL REFERENCES colonies(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    initiatorid TEXT NOT NULL DEFAULT '',
    initiatorname TEXT NOT NULL DEFAULT '',
    cronexpression TEXT NOT NULL DEFAULT '',
    interval BIGINT NOT NULL DEFAULT -1,
    random BIGINT NOT NULL DEFAULT 0,
    anchor BIGINT NOT NULL,            -- when it was added: interval windows count from here
    nextrun BIGINT NOT NULL DEFAULT 0,
    lastrun BIGINT NOT NULL DEFAULT 0,
    workflowspec TEXT NOT NULL,
    prevprocessgraphid TEXT NOT NULL DEFAULT '',
    waitforprevprocessgraph BIGINT NOT NULL DEFAULT 0,
    UNIQUE (colonyname, name)
);
CREATE INDEX crons_by_nextrun ON crons(nextrun);

CREATE TABLE generators (
    generatorid TEXT PRIMARY KEY,
    colonyname TEXT NOT NULL REFERENCES colonies(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    initiatorid TEXT NOT NULL DEFAULT '',
    initiatorname TEXT NOT NULL DEFAULT '',
    workflowspec TEXT NOT NULL,
    trigger BIGINT NOT NULL,
    timeout BIGINT NOT NULL DEFAULT -1,
    firstpack BIGINT NOT NULL DEFAULT 0,
    lastrun BIGINT NOT NULL DEFAULT 0,
    rowid BIGSERIAL NOT NULL
);
CREATE INDEX generators_by_name ON generators(colonyname, name);

CREATE TABLE generatorargs (
    id BIGSERIAL PRIMARY KEY,
    generatorid TEXT NOT NULL REFERENCES generators(generatorid) ON DELETE CASCADE,
    arg TEXT NOT NULL,
    added BIGINT NOT NULL
);
CREATE INDEX generatorargs_by_generator ON generatorargs(generatorid, id);
