-- Crons (timed workflows) and generators (workflows triggered by packed arguments).

CREATE TABLE crons (
    cronid TEXT PRIMARY KEY,
    colonyname TEXT NOT NULL REFERENCES colonies(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    initiatorid TEXT NOT NULL DEFAULT '',
    initiatorname TEXT NOT NULL DEFAULT '',
    cronexpression TEXT NOT NULL DEFAULT '',
    interval INTEGER NOT NULL DEFAULT -1,
    random INTEGER NOT NULL DEFAULT 0,
    anchor INTEGER NOT NULL,            -- when it was added: interval windows count from here
    nextrun INTEGER NOT NULL DEFAULT 0,
    lastrun INTEGER NOT NULL DEFAULT 0,
    workflowspec TEXT NOT NULL,
    prevprocessgraphid TEXT NOT NULL DEFAULT '',
    waitforprevprocessgraph INTEGER NOT NULL DEFAULT 0,
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
    trigger INTEGER NOT NULL,
    timeout INTEGER NOT NULL DEFAULT -1,
    firstpack INTEGER NOT NULL DEFAULT 0,
    lastrun INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX generators_by_name ON generators(colonyname, name);

CREATE TABLE generatorargs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    generatorid TEXT NOT NULL REFERENCES generators(generatorid) ON DELETE CASCADE,
    arg TEXT NOT NULL,
    added INTEGER NOT NULL
);
CREATE INDEX generatorargs_by_generator ON generatorargs(generatorid, id);
