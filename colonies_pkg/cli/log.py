"""`colonies log …`: add log lines to a running process, print a process's or an executor's
logs (optionally following them until the process ends), and search logs by text."""
from __future__ import annotations

import argparse

from ..models.log import Log
from ..rpc.messages import AddLogMsg, GetLogsMsg, SearchLogsMsg
from .common import CliError, Session, add_command, add_group, add_json
from .function import follow
from .output import fmt_ns, info, print_json, warn, write_logs
from .process import get_process
from .table import kv_table

MAX_LOGS = 500


def _add(args: argparse.Namespace) -> int:
    s = Session(args)
    s.rpc(AddLogMsg(processid=args.processid, message=args.message), s.prvkey)
    info("Adding log", LogMsg=args.message, ProcessID=args.processid)
    return 0


def _get(args: argparse.Namespace) -> int:
    s = Session(args)
    if not args.processid and not args.executorname:
        raise CliError("give a process id (-p) or an executor name (-e)")
    if args.count > MAX_LOGS:
        raise CliError(f"--count cannot exceed {MAX_LOGS}")
    if args.follow:
        if not args.processid:
            raise CliError("--follow needs a process id (-p)")
        follow(s, get_process(s, args.processid))
        return 0
    msg = GetLogsMsg(colonyname=s.colonyname, processid=args.processid or "", executorname=args.executorname or "",
                     count=args.count, since=args.since, latest=not args.first and not args.since)
    logs, plain = s.rpc_json(msg, s.prvkey, list[Log] | None)
    if args.json:
        print_json(plain or [])  # as the server sent them
    else:
        write_logs(logs or [])
    return 0


def _search(args: argparse.Namespace) -> int:
    s = Session(args)
    fields: dict[str, object] = {"Count": args.count, "Days": args.days, "Text": args.text}
    if args.print:
        fields["Seconds"] = args.seconds
    info("Searching for logs", **fields)
    typed, plain = s.rpc_json(SearchLogsMsg(colonyname=s.colonyname, text=args.text, days=args.days,
                                            count=args.count), s.prvkey, list[Log] | None)
    pairs = sorted(zip(typed or [], plain or [], strict=True), key=lambda pair: pair[0].timestamp, reverse=True)
    if args.json:
        print_json([raw for _, raw in pairs])  # newest first, each as the server sent it
        return 0
    logs = [entry for entry, _ in pairs]
    if not logs:
        warn("No logs found")
        return 0
    for entry in logs:
        ts = entry.timestamp
        if not args.print:
            kv_table([("Timestamp", fmt_ns(ts)), ("ExecutorName", entry.executorname),
                      ("ProcessID", entry.processid), ("Text", entry.message.strip())])
            continue
        print(f"Timestamp: {fmt_ns(ts)}")
        print(f"ProcessID: {entry.processid}")
        print(f"ExecutorName: {entry.executorname}")
        print("=================== LOGS ====================")
        since = ts - args.seconds * 1_000_000_000 - 1
        around = s.rpc(GetLogsMsg(colonyname=s.colonyname, processid=entry.processid, count=MAX_LOGS,
                                  since=max(since, 1), latest=False), s.prvkey, reply=list[Log] | None) or []
        write_logs([e for e in around if e.timestamp <= ts])
        print("================= END LOGS ==================")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    g = add_group(sub, "log", "Manage logging")
    p = add_command(g, "add", "Add a log line to a running process (as its assigned executor)", _add)
    p.add_argument("-p", "--processid", required=True, help="process id")
    p.add_argument("-m", "--message", required=True, help="log message")
    p = add_command(g, "get", "Print the logs of a process or an executor", _get)
    p.add_argument("-p", "--processid", help="process id")
    p.add_argument("-e", "--executorname", help="executor name (instead of a process)")
    p.add_argument("--count", type=int, default=100, help=f"number of entries (max {MAX_LOGS})")
    p.add_argument("--since", type=int, default=0, help="only entries after this Unix time in nanoseconds")
    order = p.add_mutually_exclusive_group()
    order.add_argument("-l", "--latest", action="store_true", help="the newest entries (the default)")
    order.add_argument("-f", "--first", action="store_true", help="the oldest entries instead of the newest")
    p.add_argument("--follow", action="store_true", help="print new entries until the process is finished")
    add_json(p)
    p = add_command(g, "search", "Search logs of the colony for a text", _search)
    p.add_argument("-t", "--text", required=True, help="text to search for (case-sensitive)")
    p.add_argument("--days", type=int, default=1, help="search the last N days (max 30)")
    p.add_argument("--count", type=int, default=100, help="max number of logs (max 100)")
    p.add_argument("--print", action="store_true", help="print each found log with the logs just before it")
    p.add_argument("--seconds", type=int, default=1, help="with --print: seconds of logs before each found log")
    add_json(p)
