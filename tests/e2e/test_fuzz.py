"""A seeded fuzzer against a real server on a real socket: no client fault may get a 5xx.

Every message type of the registry (`rpc.messages.MESSAGES`, so new messages are covered as they
are added) is sent with mutated fields -- wrong types, huge and negative numbers, huge strings,
odd unicode, deep nesting, missing and extra keys -- and inside broken envelopes and signatures;
/pubsub gets random WebSocket frames. After every request: no 5xx, an error reply has the
ColonyOS error envelope, a refused request committed nothing (SQLite `PRAGMA data_version` of a
reader connection on the server's database file), and the server still answers /health.

Bounded for CI (COLONIES_FUZZ_REQUESTS, default 600 HTTP requests + a tenth as many WebSocket
sessions); `COLONIES_FUZZ_REQUESTS=20000 COLONIES_FUZZ_SEED=7 python -m pytest tests/e2e/test_fuzz.py`
runs longer. The seed of a failing run is printed in the assertion message.
"""
from __future__ import annotations

import base64
import http.client
import json
import logging
import os
import random
import re
import sqlite3
from collections import Counter
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from server_process import ThreadServer
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from colonies_pkg.crypto import generate_prvkey, id_of_prvkey, sign
from colonies_pkg.rpc import messages

from .conftest import DEV_COLONY_PRV, DEV_USER_PRV, SERVER_PRV

REQUESTS = int(os.environ.get("COLONIES_FUZZ_REQUESTS", "600"))
SEED = int(os.environ.get("COLONIES_FUZZ_SEED", str(random.randrange(1 << 30))))
COLONY = "fz"  # the current target colony's name, replaced when a request wrecks it (IDENTITY_CHANGES)
SEEN_IDS: dict[str, list[str]] = {}  # ids from accepted replies (cronid, generatorid, ...), to aim at


def harvest(value: Any) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if k.endswith("id") and isinstance(v, str) and len(v) == 64:
                ids = SEEN_IDS.setdefault(k, [])
                ids.append(v)
                del ids[:-20]
            else:
                harvest(v)
    elif isinstance(value, list):
        for v in value[:20]:
            harvest(v)


TARGETS: list[str] = []  # ids of a waiting and a running process of the current colony
IDENTITY_CHANGES = {"changecolonyidmsg", "changeuseridmsg", "changeexecutoridmsg", "removecolonymsg", "removeusermsg",
                    "removeexecutormsg", "rejectexecutormsg"}


def envelope(msg: Any, prvkey: str | None, payloadtype: str | None = None) -> bytes:
    raw = msg if isinstance(msg, bytes) else dumps(msg).encode()
    payload = base64.b64encode(raw).decode()
    ptype = payloadtype if payloadtype is not None else (msg.get("msgtype", "") if isinstance(msg, dict) else "")
    return dumps({"payloadtype": ptype, "payload": payload,
                       "signature": sign(payload, prvkey) if prvkey else ""}).encode()


class Http:
    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def post(self, body: bytes, timeout: float = 10.0) -> tuple[int, bytes] | None:
        """(status, body), or None when the server kept a long-poll open past `timeout`."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        self.conn.timeout = timeout
        if self.conn.sock is not None:
            self.conn.sock.settimeout(timeout)
        try:
            self.conn.request("POST", "/api", body=body)
            resp = self.conn.getresponse()
            return resp.status, resp.read()
        except TimeoutError:
            self.close()
            return None

    def rpc(self, msg: dict[str, Any], prvkey: str | None) -> Any:
        result = self.post(envelope(msg, prvkey))
        assert result is not None
        status, body = result
        reply = json.loads(body)
        data = json.loads(base64.b64decode(reply["payload"]))
        assert status == 200, (msg["msgtype"], data)
        return data

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def check_error_shape(status: int, body: bytes, what: str) -> None:
    reply = json.loads(body)
    assert reply["error"] is True and reply["payloadtype"] == "error", what
    failure = json.loads(base64.b64decode(reply["payload"]))
    assert failure["status"] == status, what
    assert isinstance(failure["message"], str) and failure["message"].strip(), what


# --- values and mutations ---------------------------------------------------------------------
def deep_json(depth: int) -> str:
    return '{"a":[' * (depth // 2) + "1" + "]}" * (depth // 2)


def deep(depth: int) -> str:
    """A placeholder that `dumps` replaces by JSON nested `depth` levels (json.dumps would recurse)."""
    return f"__DEEP_{depth}__"


def dumps(value: Any) -> str:
    text = json.dumps(value)
    if "__DEEP_" in text:
        text = re.sub(r'"__DEEP_(\d+)__"', lambda m: deep_json(int(m.group(1))), text)
    return text


BIG_INTS = [2**63, 2**63 - 1, -(2**63), -(2**63) - 1, 2**64, 10**30, -(10**30), 2**31, -1, -(2**31) - 1]
ODD_STRINGS = ["", " ", "%", "_%_%_%_%" * 200, "*?[" * 300, "\\", "'; DROP TABLE processes; --", "\u0000",
               "\ud800", "é🚀\u202e", "a" * 70_000, "../../etc/passwd", "/", "//a//b", "%" * 5000, "\n\r\t"]


def random_value(rng: random.Random) -> Any:
    kind = rng.randrange(10)
    if kind == 0:
        return rng.choice(BIG_INTS)
    if kind == 1:
        return rng.choice(ODD_STRINGS)
    if kind == 2:
        return rng.choice([None, True, False, 0, 1.5, -0.0, 1e308, [], {}, [None], {"": None}])
    if kind == 3:
        return deep(rng.choice([20, 200, 3000, 20000]))
    if kind == 4:
        return [rng.choice(BIG_INTS + ODD_STRINGS[:6]) for _ in range(rng.randrange(1, 5))]
    if kind == 5:
        return {rng.choice(ODD_STRINGS[:10]): rng.choice(BIG_INTS)}
    if kind == 6:
        return rng.randrange(-5, 10)
    if kind == 7:
        return COLONY
    if kind == 8:
        return "".join(chr(rng.randrange(32, 0x2FFF)) for _ in range(rng.randrange(1, 40)))
    return rng.choice(["0" * 64, "f" * 64, "x" * 64])


def sample(tp: Any, rng: random.Random, depth: int = 0) -> Any:
    """A plausible JSON value of a msgspec type (from msgspec.inspect)."""
    i = msgspec.inspect
    if isinstance(tp, i.Metadata):
        tp = tp.type
    if isinstance(tp, i.UnionType):
        options = [t for t in tp.types if not isinstance(t, i.NoneType)]
        return sample(rng.choice(options), rng, depth) if options else None
    if isinstance(tp, (i.StructType, i.DataclassType)):
        if depth > 4:
            return {}
        return {f.encode_name: sample(f.type, rng, depth + 1) for f in tp.fields}
    if isinstance(tp, (i.ListType, i.SetType, i.FrozenSetType, i.VarTupleType)):
        return [sample(tp.item_type, rng, depth + 1) for _ in range(rng.randrange(0, 3))]
    if isinstance(tp, i.DictType):
        return {f"k{n}": sample(tp.value_type, rng, depth + 1) for n in range(rng.randrange(0, 3))}
    if isinstance(tp, i.BoolType):
        return rng.random() < 0.5
    if isinstance(tp, i.IntType):
        return rng.choice([0, 1, 2, -1, 5, 60])
    if isinstance(tp, i.FloatType):
        return rng.random()
    if isinstance(tp, i.StrType):
        return rng.choice([COLONY, "", "echo", "fz-exec", "cli", "/lbl", "name", "0" * 64])
    if isinstance(tp, i.LiteralType):
        return rng.choice(tp.values)
    return rng.choice([1, "x", None, [], {}])


AIMED = {"executorname": ["fz-exec"], "executortype": ["cli"], "name": ["fz-exec", "fz-user", "chat"],
         "channels": [["chat"]],
         "cpu": ["", "500m", "2"], "mem": ["", "1Gi", "100Mi"], "availablecpu": ["", "4"], "availablemem": ["", "8Gi"],
         "trigger": [1, 3], "funcname": ["echo"], "nodename": ["a", "b"], "dependencies": [[], ["a"]],
         "workflowspec": [json.dumps({"colonyname": "fz", "functionspecs": [
             {"nodename": "a", "funcname": "echo", "conditions": {"executortype": "cli"}}]})],
         "cronexpression": ["0/5 * * * * *", ""], "interval": [-1, 5]}


def aim(value: Any, rng: random.Random) -> Any:
    """Point most names at the fuzz colony, so that requests get past the membership checks."""
    if isinstance(value, dict):
        aimed = {**AIMED, **SEEN_IDS, "colonyname": [COLONY], "processid": TARGETS + SEEN_IDS.get("processid", [])}
        return {k: rng.choice(aimed[k]) if k in aimed and rng.random() < 0.9 else aim(v, rng) for k, v in value.items()}
    if isinstance(value, list):
        return [aim(v, rng) for v in value]
    return value


def base_message(name: str, cls: type, rng: random.Random) -> dict[str, Any]:
    info = msgspec.inspect.type_info(cls)
    msg = aim({f.encode_name: sample(f.type, rng) for f in info.fields}, rng)
    msg["msgtype"] = name
    return msg


def mutate(value: Any, rng: random.Random, depth: int = 0) -> Any:
    """Replace, drop or add one key somewhere in `value` (a dict), or return a fresh value."""
    if not isinstance(value, dict) or not value or depth > 3:
        return random_value(rng)
    key = rng.choice(sorted(value))
    choice = rng.randrange(6)
    if choice == 0 and key != "msgtype":
        del value[key]
    elif choice == 1:
        value[rng.choice(["extra", "", "msgtype2", "\u00e9"])] = random_value(rng)
    elif choice in (2, 3) and isinstance(value[key], dict):
        value[key] = mutate(value[key], rng, depth + 1)
    elif key != "msgtype" or rng.random() < 0.1:
        value[key] = random_value(rng)
    return value


def leaves(value: Any, path: tuple = ()) -> Iterator[tuple]:
    if isinstance(value, dict):
        for k, v in value.items():
            if k != "msgtype":
                yield from leaves(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from leaves(v, (*path, i))
    if path:
        yield path


def poke(msg: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """One field anywhere in an otherwise valid message becomes a hostile number or string."""
    paths = list(leaves(msg))
    if paths:
        *parent, last = rng.choice(paths)
        target: Any = msg
        for p in parent:
            target = target[p]
        target[last] = rng.choice(BIG_INTS + ODD_STRINGS + [deep(rng.choice([90, 120, 5000]))])
    return msg


def broken_envelope(msg: dict[str, Any], keys: list[str], rng: random.Random) -> bytes:
    payload = base64.b64encode(dumps(msg).encode()).decode()
    good = sign(payload, rng.choice(keys))
    choices = [
        lambda: b"",
        lambda: b"{",
        lambda: b"[]",
        lambda: b"null",
        lambda: dumps(deep(50_000)).encode(),
        lambda: b"[" * 200_000,
        lambda: b'{"payloadtype":' + b"[" * 100_000,
        lambda: dumps({"payloadtype": msg["msgtype"], "payload": payload, "signature": good[:-2]}).encode(),
        lambda: dumps({"payloadtype": msg["msgtype"], "payload": payload, "signature": "zz" * 65}).encode(),
        lambda: dumps({"payloadtype": msg["msgtype"], "payload": payload, "signature": "00" * 65}).encode(),
        lambda: dumps({"payloadtype": msg["msgtype"], "payload": payload + "!", "signature": good}).encode(),
        lambda: dumps({"payloadtype": msg["msgtype"], "payload": 7, "signature": good}).encode(),
        lambda: dumps({"payloadtype": "versionmsg", "payload": payload, "signature": good}).encode(),
        lambda: dumps({"payloadtype": msg["msgtype"], "payload": base64.b64encode(b"[" * 50_000).decode(),
                            "signature": ""}).encode(),
        lambda: envelope(b"\xff\xfe" + dumps(msg).encode(), rng.choice(keys), msg["msgtype"]),
        lambda: envelope(dumps(deep(30_000)).encode(), rng.choice(keys), msg["msgtype"]),
        lambda: envelope(msg, rng.choice(keys), rng.choice(["", "nosuchmsg", "subscribeprocessmsg", "error"])),
        lambda: dumps({"payloadtype": msg["msgtype"], "payload": payload, "signature": good,
                            "extra": deep(100)}).encode(),
    ]
    return rng.choice(choices)()


# --- the database witness ---------------------------------------------------------------------
class Witness:
    """`PRAGMA data_version` changes exactly when another connection committed to the file."""

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)

    def version(self) -> int:
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])


class ErrorRecords(logging.Handler):
    """ERROR records of the server's loggers: a client fault must never log a traceback."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> ErrorRecords:
        for name in LOGGERS:
            logging.getLogger(name).addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        for name in LOGGERS:
            logging.getLogger(name).removeHandler(self)


LOGGERS = ("colonies", "uvicorn.error", "uvicorn")


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    with ThreadServer(tmp_path_factory.mktemp("fuzz")) as srv:
        yield srv


def setup_colony(h: Http, keys: dict[str, str], name: str = "fz") -> dict[str, str]:
    """A colony with a user, an approved executor and a process to aim at."""
    global COLONY
    COLONY = name
    SEEN_IDS.clear()  # ids of the previous colony would only be refused
    colony_id = id_of_prvkey(keys["colony"])
    h.rpc({"msgtype": "addcolonymsg", "colony": {"colonyid": colony_id, "name": COLONY}}, SERVER_PRV)
    h.rpc({"msgtype": "addusermsg", "user": {"colonyname": COLONY, "userid": id_of_prvkey(keys["user"]),
                                            "name": "fz-user", "email": "", "phone": ""}}, keys["colony"])
    h.rpc({"msgtype": "addexecutormsg", "executor": {
        "executorname": "fz-exec", "executorid": id_of_prvkey(keys["executor"]), "executortype": "cli",
        "colonyname": COLONY}}, keys["colony"])
    h.rpc({"msgtype": "approveexecutormsg", "colonyname": COLONY, "executorname": "fz-exec"}, keys["colony"])
    spec = {"funcname": "echo", "conditions": {"colonyname": COLONY, "executortype": "cli"}, "maxexectime": -1,
            "maxwaittime": -1, "maxretries": 0, "label": "lbl", "channels": ["chat"]}
    TARGETS[:] = [h.rpc({"msgtype": "submitfuncspecmsg", "spec": spec}, keys["user"])["processid"] for _ in range(2)]
    h.rpc({"msgtype": "assignprocessmsg", "colonyname": COLONY, "timeout": 1}, keys["executor"])
    return {"processid": TARGETS[0]}


def test_fuzz_api_and_pubsub(fuzz_server: ThreadServer) -> None:
    with ErrorRecords() as errors:
        run_fuzz(fuzz_server)
    logged = [f"{r.getMessage()}\n{logging.Formatter().formatException(r.exc_info) if r.exc_info else ''}"
              for r in errors.records]
    assert not logged, f"the server logged errors (seed {SEED}):\n" + "\n".join(logged[:3])


def run_fuzz(fuzz_server: ThreadServer) -> None:
    rng = random.Random(SEED)
    keys = {"colony": DEV_COLONY_PRV, "user": DEV_USER_PRV, "executor": generate_prvkey()}
    h = Http(fuzz_server.port)
    targets = setup_colony(h, keys)
    resets = 0
    witness = Witness(fuzz_server.config.db_path)
    # the server key signs too, but a changeserveridmsg signed by it would lock the fuzzer out
    signers = [keys["user"]] * 10 + [keys["executor"]] * 4 + [keys["colony"]] * 3 + [SERVER_PRV, generate_prvkey(), None]
    names = sorted(messages.MESSAGES)
    http_names = [n for n in names if n not in messages.WEBSOCKET_ONLY]
    statuses: Counter[int] = Counter()
    accepted: Counter[str] = Counter()
    context = f"(seed {SEED}; rerun with COLONIES_FUZZ_SEED={SEED})"

    for n in range(REQUESTS):
        name = rng.choice(http_names)
        msg = base_message(name, messages.MESSAGES[name], rng)
        for key in ("processid", "processgraphid"):
            if key in msg and rng.random() < 0.5:
                msg[key] = targets["processid"]
        if rng.random() < 0.5:
            msg = poke(msg, rng)
        else:
            for _ in range(rng.randrange(0, 4)):
                msg = mutate(msg, rng)
        if not isinstance(msg, dict):
            msg = {"msgtype": name, "x": msg}
        if rng.random() < 0.1:
            body = broken_envelope(msg, [k for k in signers if k], rng)
        else:
            signer = rng.choice(signers)
            if name == "changeserveridmsg" and signer == SERVER_PRV:
                signer = keys["colony"]
            body = envelope(msg, signer, name if rng.random() < 0.95 else rng.choice(names))
        before = witness.version()
        result = h.post(body, timeout=1.5 if name == "assignprocessmsg" else 20.0)
        what = f"request {n}: {body[:300]!r} {context}"
        if result is None:  # a long-poll parked as asked; the client gave up (server cancels it)
            statuses[0] += 1
            continue
        status, reply = result
        statuses[status] += 1
        if status == 200:
            accepted[name] += 1
            harvest(json.loads(base64.b64decode(json.loads(reply)["payload"])))
            if name in IDENTITY_CHANGES:  # the fixture colony may be gone: aim at a fresh one
                resets += 1
                keys.update(colony=generate_prvkey(), user=generate_prvkey(), executor=generate_prvkey())
                signers[:] = [keys["user"]] * 10 + [keys["executor"]] * 4 + [keys["colony"]] * 3 + signers[-3:]
                targets = setup_colony(h, keys, f"fz{resets}")
        assert status < 500, f"{status} {reply[:300]!r} for {what}"
        if status != 200:
            check_error_shape(status, reply, what)
            if name == "assignprocessmsg" and status == 404:
                continue  # not a refusal: nothing to assign (the executor's last-heard-from time moved)
            assert witness.version() == before, f"refused request {status} changed the database: {what}"
        if n % 50 == 0:
            assert_alive(fuzz_server.port)

    ws_statuses = fuzz_pubsub(fuzz_server.port, rng, keys, targets, max(REQUESTS // 10, 20), witness, context)
    assert_alive(fuzz_server.port)
    print(f"\nfuzz seed {SEED}: {REQUESTS} requests, statuses {dict(sorted(statuses.items()))} "
          f"(0 = long-poll left parked); websocket outcomes {dict(ws_statuses)}; "
          f"never accepted: {sorted(set(http_names) - set(accepted))}")
    assert statuses[200] > 0 and sum(v for k, v in statuses.items() if 400 <= k < 500) > REQUESTS // 4


def assert_alive(port: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/health")
    assert conn.getresponse().status == 200
    conn.close()


def fuzz_pubsub(port: int, rng: random.Random, keys: dict[str, str], targets: dict[str, str], sessions: int,
                witness: Witness, context: str) -> Counter[str]:
    outcomes: Counter[str] = Counter()
    ws_names = sorted(messages.WEBSOCKET_ONLY & set(messages.MESSAGES))
    for n in range(sessions):
        name = rng.choice(ws_names)
        msg = base_message(name, messages.MESSAGES[name], rng)
        msg["timeout"] = rng.choice([0, 1, -1, 2**70, "x"]) if rng.random() < 0.5 else 0
        msg["processid"] = targets["processid"] if rng.random() < 0.5 else msg.get("processid", "")
        for _ in range(rng.randrange(0, 3)):
            msg = mutate(msg, rng)
        if not isinstance(msg, dict):
            msg = {"msgtype": name}
        signer = rng.choice([keys["user"], keys["colony"], generate_prvkey(), None])
        frame: str | bytes
        kind = rng.randrange(5)
        if kind == 0:
            frame = envelope(msg, signer, name).decode()
        elif kind == 1:
            frame = broken_envelope(msg, [keys["user"]], rng).decode("utf-8", "replace")
        elif kind == 2:
            frame = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
        elif kind == 3:
            frame = envelope(msg, signer, rng.choice(["addlogmsg", "getprocessmsg", name])).decode()
        else:
            frame = dumps(deep(rng.choice([100, 5000]))) if rng.random() < 0.5 else "x" * 100_000
        before = witness.version()
        what = f"websocket session {n}: {str(frame)[:300]!r} {context}"
        try:
            with ws_connect(f"ws://127.0.0.1:{port}/pubsub", open_timeout=10, close_timeout=5,
                            max_size=2**24) as ws:
                ws.send(frame)
                while True:
                    try:
                        text = ws.recv(timeout=0.5)
                    except TimeoutError:
                        outcomes["open"] += 1
                        break
                    reply = json.loads(text)
                    if reply.get("error"):
                        failure = json.loads(base64.b64decode(reply["payload"]))
                        assert 400 <= failure["status"] < 500, f"{failure} for {what}"
                        assert failure["message"], what
                        outcomes[f"error {failure['status']}"] += 1
                    else:
                        outcomes["pushed"] += 1
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else None
            assert code in (1000, 1003, 1007, 1008, 1009, None), f"close code {code} for {what}"
            outcomes[f"closed {code}"] += 1
        assert witness.version() == before, f"a subscription changed the database: {what}"
    return outcomes
