-- PostgreSQL twin of migrations/sqlite/0001_initial.sql: the same tables, columns and indexes.
-- Times are integer Unix nanoseconds (BIGINT); 0 means "unset" (Go's zero time on the wire).
-- `rowid` (BIGSERIAL) makes SQLite's implicit insertion order explicit where queries order by it.

CREATE TABLE server (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    serverid TEXT NOT NULL
);

CREATE TABLE colonies (
    name TEXT PRIMARY KEY,
    colonyid TEXT NOT NULL,
    paused BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE users (
    colonyname TEXT NOT NULL REFERENCES colonies(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    userid TEXT NOT NULL,
    email TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (colonyname, name)
);
CREATE INDEX users_by_id ON users(userid, colonyname);

CREATE TABLE executors (
    colonyname TEXT NOT NULL REFERENCES colonies(name) ON DELETE CASCADE,
    executorname TEXT NOT NULL,
    executorid TEXT NOT NULL,
    executortype TEXT NOT NULL,
    state BIGINT NOT NULL DEFAULT 0,
    requirefuncreg BIGINT NOT NULL DEFAULT 0,
    commissiontime BIGINT NOT NULL DEFAULT 0,
    lastheardfromtime BIGINT NOT NULL DEFAULT 0,
    locationname TEXT NOT NULL DEFAULT '',
    capabilities TEXT NOT NULL DEFAULT '{}',
    allocations TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (colonyname, executorname)
);
CREATE INDEX executors_by_id ON executors(executorid, colonyname);

CREATE TABLE functions (
    functionid TEXT PRIMARY KEY,
    colonyname TEXT NOT NULL REFERENCES colonies(name) ON DELETE CASCADE,
    executorname TEXT NOT NULL,
    executortype TEXT NOT NULL DEFAULT '',
    funcname TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    args TEXT NOT NULL DEFAULT 'null',
    counter BIGINT NOT NULL DEFAULT 0,
    minwaittime DOUBLE PRECISION NOT NULL DEFAULT 0,
    maxwaittime DOUBLE PRECISION NOT NULL DEFAULT 0,
    minexectime DOUBLE PRECISION NOT NULL DEFAULT 0,
    maxexectime DOUBLE PRECISION NOT NULL DEFAULT 0,
    avgwaittime DOUBLE PRECISION NOT NULL DEFAULT 0,
    avgexectime DOUBLE PRECISION NOT NULL DEFAULT 0,
    locationname TEXT NOT NULL DEFAULT ''
);
CREATE INDEX functions_by_executor ON functions(colonyname, executorname, funcname);

CREATE TABLE processes (
    processid TEXT PRIMARY KEY,
    colonyname TEXT NOT NULL REFERENCES colonies(name) ON DELETE CASCADE,
    executortype TEXT NOT NULL,
    executornames TEXT,                 -- JSON array, NULL when any executor may run it
    locationname TEXT NOT NULL DEFAULT '',
    cpu BIGINT NOT NULL DEFAULT 0,     -- millicores requested
    mem BIGINT NOT NULL DEFAULT 0,     -- bytes requested
    state BIGINT NOT NULL DEFAULT 0,
    isassigned BIGINT NOT NULL DEFAULT 0,
    assignedexecutorid TEXT NOT NULL DEFAULT '',
    waitforparents BIGINT NOT NULL DEFAULT 0,
    prioritytime BIGINT NOT NULL,
    submissiontime BIGINT NOT NULL,
    starttime BIGINT NOT NULL DEFAULT 0,
    endtime BIGINT NOT NULL DEFAULT 0,
    waitdeadline BIGINT NOT NULL DEFAULT 0,
    execdeadline BIGINT NOT NULL DEFAULT 0,
    retries BIGINT NOT NULL DEFAULT 0,
    maxwaittime BIGINT NOT NULL DEFAULT 0,
    maxexectime BIGINT NOT NULL DEFAULT 0,
    maxretries BIGINT NOT NULL DEFAULT 0,
    initiatorid TEXT NOT NULL DEFAULT '',
    initiatorname TEXT NOT NULL DEFAULT '',
    funcname TEXT NOT NULL DEFAULT '',
    label TEXT NOT NULL DEFAULT '',
    processgraphid TEXT NOT NULL DEFAULT '',
    spec TEXT NOT NULL,                 -- JSON FunctionSpec
    parents TEXT NOT NULL DEFAULT '[]',
    children TEXT NOT NULL DEFAULT '[]',
    input TEXT NOT NULL DEFAULT '[]',
    output TEXT NOT NULL DEFAULT '[]',
    errors TEXT NOT NULL DEFAULT '[]',
    rowid BIGSERIAL NOT NULL
);
-- The assignment queue: only assignable rows, in priority order, ties in submission order (SQLite's
-- index holds the rowid implicitly; here it is a column).
CREATE INDEX processes_queue ON processes(colonyname, executortype, prioritytime, rowid)
    WHERE state = 0 AND isassigned = 0 AND waitforparents = 0;
CREATE INDEX processes_by_state ON processes(colonyname, state, prioritytime);
CREATE INDEX processes_running ON processes(execdeadline) WHERE state = 1;
CREATE INDEX processes_waitdeadline ON processes(waitdeadline) WHERE state = 0 AND waitdeadline > 0;
CREATE INDEX processes_by_graph ON processes(processgraphid) WHERE processgraphid != '';
CREATE INDEX processes_by_executor ON processes(assignedexecutorid) WHERE state = 1;

CREATE TABLE attributes (
    attributeid TEXT PRIMARY KEY,
    targetid TEXT NOT NULL REFERENCES processes(processid) ON DELETE CASCADE,
    targetcolonyname TEXT NOT NULL DEFAULT '',
    targetprocessgraphid TEXT NOT NULL DEFAULT '',
    attributetype BIGINT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    rowid BIGSERIAL NOT NULL
);
CREATE INDEX attributes_by_target ON attributes(targetid);

CREATE TABLE logs (
    id BIGSERIAL PRIMARY KEY,
    processid TEXT NOT NULL DEFAULT '',
    colonyname TEXT NOT NULL REFERENCES colonies(name) ON DELETE CASCADE,
    executorname TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL,
    timestamp BIGINT NOT NULL
);
CREATE INDEX logs_by_process ON logs(processid, timestamp);
CREATE INDEX logs_by_executor ON logs(executorname, timestamp);
CREATE INDEX logs_by_colony ON logs(colonyname, timestamp);

-- PostgreSQL only: leases of the leader-only background work (crons, generators, retention,
-- stale executors) among the replicas sharing this database. A holder renews before `expires`
-- (database clock); any replica may take an expired lease.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires TIMESTAMPTZ NOT NULL,
    since TIMESTAMPTZ NOT NULL
);
