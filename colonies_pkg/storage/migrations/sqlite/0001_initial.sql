-- Core schema: server, colonies, users, executors, functions, processes, attributes, logs.
-- Times are integer Unix nanoseconds; 0 means "unset" (Go's zero time on the wire).

CREATE TABLE server (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    serverid TEXT NOT NULL
);

CREATE TABLE colonies (
    name TEXT PRIMARY KEY,
    colonyid TEXT NOT NULL,
    paused INTEGER NOT NULL DEFAULT 0
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
    state INTEGER NOT NULL DEFAULT 0,
    requirefuncreg INTEGER NOT NULL DEFAULT 0,
    commissiontime INTEGER NOT NULL DEFAULT 0,
    lastheardfromtime INTEGER NOT NULL DEFAULT 0,
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
    counter INTEGER NOT NULL DEFAULT 0,
    minwaittime REAL NOT NULL DEFAULT 0,
    maxwaittime REAL NOT NULL DEFAULT 0,
    minexectime REAL NOT NULL DEFAULT 0,
    maxexectime REAL NOT NULL DEFAULT 0,
    avgwaittime REAL NOT NULL DEFAULT 0,
    avgexectime REAL NOT NULL DEFAULT 0,
    locationname TEXT NOT NULL DEFAULT ''
);
CREATE INDEX functions_by_executor ON functions(colonyname, executorname, funcname);

CREATE TABLE processes (
    processid TEXT PRIMARY KEY,
    colonyname TEXT NOT NULL REFERENCES colonies(name) ON DELETE CASCADE,
    executortype TEXT NOT NULL,
    executornames TEXT,                 -- JSON array, NULL when any executor may run it
    locationname TEXT NOT NULL DEFAULT '',
    cpu INTEGER NOT NULL DEFAULT 0,     -- millicores requested
    mem INTEGER NOT NULL DEFAULT 0,     -- bytes requested
    state INTEGER NOT NULL DEFAULT 0,
    isassigned INTEGER NOT NULL DEFAULT 0,
    assignedexecutorid TEXT NOT NULL DEFAULT '',
    waitforparents INTEGER NOT NULL DEFAULT 0,
    prioritytime INTEGER NOT NULL,
    submissiontime INTEGER NOT NULL,
    starttime INTEGER NOT NULL DEFAULT 0,
    endtime INTEGER NOT NULL DEFAULT 0,
    waitdeadline INTEGER NOT NULL DEFAULT 0,
    execdeadline INTEGER NOT NULL DEFAULT 0,
    retries INTEGER NOT NULL DEFAULT 0,
    maxwaittime INTEGER NOT NULL DEFAULT 0,
    maxexectime INTEGER NOT NULL DEFAULT 0,
    maxretries INTEGER NOT NULL DEFAULT 0,
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
    errors TEXT NOT NULL DEFAULT '[]'
);
-- The assignment queue: only assignable rows, in priority order.
CREATE INDEX processes_queue ON processes(colonyname, executortype, prioritytime)
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
    attributetype INTEGER NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL
);
CREATE INDEX attributes_by_target ON attributes(targetid);

CREATE TABLE logs (
    id INTEGER PRIMARY KEY,
    processid TEXT NOT NULL DEFAULT '',
    colonyname TEXT NOT NULL REFERENCES colonies(name) ON DELETE CASCADE,
    executorname TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL,
    timestamp INTEGER NOT NULL
);
CREATE INDEX logs_by_process ON logs(processid, timestamp);
CREATE INDEX logs_by_executor ON logs(executorname, timestamp);
CREATE INDEX logs_by_colony ON logs(colonyname, timestamp);
