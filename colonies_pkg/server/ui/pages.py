"""The dashboard's pages: each reads through `ui.call` (the RPC handlers, as the session) and
renders HTML with the helpers of `html`. Actions return the URL to go back to."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from ...errors import BadRequest
from ...rpc import messages as m
from . import dag
from .auth import Session
from .html import (
    EXECUTOR_STATES,
    STATES,
    Safe,
    esc,
    form_button,
    join,
    link,
    pretty,
    seconds,
    short,
    sparkline,
    state_badge,
    table,
    tag,
    url,
    when,
)

if TYPE_CHECKING:  # app imports this module for its routes
    from .app import Ui

LIST_COUNT = 100


def _int(value: str | None, default: int, low: int, high: int) -> int:
    try:
        number = int(value) if value not in (None, "") else default
    except ValueError as exc:
        raise BadRequest(f"Not a number: {value!r}") from exc
    return min(max(number, low), high)


def _colony(request: Request) -> str:
    return str(request.path_params["colony"])


def _stat_tiles(stats: dict[str, Any], colony: str) -> Safe:
    tiles = []
    for i, name in enumerate(STATES):
        n = stats.get(f"{name}processes", 0)
        tiles.append(link(url(colony, "processes", state=i), join([tag("b", n, data_count=name), tag("span", name)]),
                          class_=f"tile s-{name}", id=f"tile-{name}"))
    flows = " · ".join(f"{stats.get(f'{n}workflows', 0)} {n}" for n in STATES)
    return join([tag("div", join(tiles), class_="tiles"), tag("p", f"Workflows: {flows}", class_="muted")])


def _process_rows(colony: str, procs: list[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for p in procs:
        spec = p.get("spec") or {}
        cond = spec.get("conditions") or {}
        rows.append([link(url(colony, f"processes/{p['processid']}"), short(p["processid"]), class_="mono"),
                     spec.get("funcname", ""), cond.get("executortype", ""), spec.get("label", ""),
                     state_badge(p.get("state", 0)), when(p.get("submissiontime")), p.get("retries", 0)])
    return rows


PROCESS_HEADERS = ("Process", "Function", "Executor type", "Label", "State", "Submitted", "Retries")


async def overview(ui: Ui, request: Request, session: Session) -> Response:
    colony = _colony(request)
    stats = await ui.call(session, m.GetColonyStatsMsg(colonyname=colony))
    colonies = await ui.colonies_of(session)
    observer = ui.services.observer
    waiters = ui.services.hub.waiting_counts()
    queue_rows = []
    for q in observer.queues(colony) if observer else []:
        parked = waiters.get((colony, q["executortype"]), 0)
        starving = q["waiting"] > 0 and parked == 0
        queue_rows.append([tag("span", q["executortype"], class_="bad" if starving else None), q["waiting"],
                           seconds(q["oldest_seconds"]) if q["waiting"] else "", q["running"], parked,
                           q["executors"]])
    latest: list[dict[str, Any]] = []
    for state in range(5):
        latest += await ui.call(session, m.GetProcessesMsg(colonyname=colony, count=10, state=state)) or []
    latest.sort(key=lambda p: p.get("submissiontime", ""), reverse=True)
    failures = await ui.call(session, m.GetProcessesMsg(colonyname=colony, count=5, state=3)) or []
    throughput = observer.throughput(colony) if observer else [(0, 0)] * 60
    done = sum(ok for ok, _ in throughput), sum(bad for _, bad in throughput)
    failure_rows = [[link(url(colony, f"processes/{p['processid']}"), short(p["processid"]), class_="mono"),
                     (p.get("spec") or {}).get("funcname", ""), when(p.get("endtime")),
                     "; ".join(str(e) for e in (p.get("errors") or []))[:200]] for p in failures]
    body = join([
        tag("h1", f"Colony {colony}"),
        _stat_tiles(stats, colony),
        tag("section", join([tag("h2", "Queues by executor type"), table(
            ("Executor type", "Waiting", "Oldest wait", "Running", "Parked assigners", "Approved executors"),
            queue_rows, empty="No queues: nothing is waiting or running.", id="queues")]), class_="card"),
        tag("section", join([tag("h2", "Throughput, last hour"), sparkline(throughput),
                             tag("span", f" {done[0]} successful, {done[1]} failed", class_="muted")]),
            class_="card"),
        tag("section", join([tag("h2", "Recent failures"), table(("Process", "Function", "Ended", "Errors"),
                                                                  failure_rows, empty="No failures.")]),
            class_="card"),
        tag("section", join([tag("h2", "Latest processes"),
                             table(PROCESS_HEADERS, _process_rows(colony, latest[:10]), id="latest")]), class_="card"),
    ])
    return ui.respond(request, session, f"Colony {colony}", body, colony=colony, active="", colonies=colonies,
                      live=f"colony={colony}")


async def processes(ui: Ui, request: Request, session: Session) -> Response:
    colony = _colony(request)
    q = request.query_params
    state = _int(q.get("state"), 0, 0, 4)
    etype, label = q.get("type", ""), q.get("label", "")
    stats = await ui.call(session, m.GetColonyStatsMsg(colonyname=colony))
    procs = await ui.call(session, m.GetProcessesMsg(colonyname=colony, count=LIST_COUNT, state=state,
                                                     executortype=etype, label=label)) or []
    tabs = join(link(url(colony, "processes", state=i, type=etype, label=label),
                     f"{name} ({stats.get(f'{name}processes', 0)})", class_="tab on" if i == state else "tab")
                for i, name in enumerate(STATES))
    controls = join([
        tag("div", tabs, class_="tabs"),
        Safe(f'<form method="get" class="filters"><input type="hidden" name="state" value="{state}">'
             f'<label>Executor type <input name="type" value="{esc(etype)}"></label>'
             f'<label>Label <input name="label" value="{esc(label)}"></label><button type="submit">Filter</button>'
             "</form>")])
    body = join([tag("h1", f"{STATES[state].capitalize()} processes"),
                 table(PROCESS_HEADERS, _process_rows(colony, procs), id="processes")])
    return ui.respond(request, session, "Processes", body, colony=colony, active="processes",
                      colonies=await ui.colonies_of(session), live=f"colony={colony}", controls=controls)


async def process(ui: Ui, request: Request, session: Session) -> Response:
    colony = _colony(request)
    pid = request.path_params["processid"]
    p = await ui.call(session, m.GetProcessMsg(processid=pid))
    spec = p.get("spec") or {}
    cond = spec.get("conditions") or {}
    if cond.get("colonyname") != colony:
        raise BadRequest("This process belongs to another colony")
    logs = await ui.call(session, m.GetLogsMsg(colonyname=colony, processid=pid, count=500, since=0,
                                             latest=True)) or []  # the last 500 lines
    state = p.get("state", 0)
    actions = []
    if not p.get("processgraphid"):
        if state in (0, 1):
            actions.append(form_button(url(colony, f"processes/{pid}/cancel"), "Cancel", session.csrf,
                                       confirm="Cancel this process?"))
        if state != 1:
            actions.append(form_button(url(colony, f"processes/{pid}/remove"), "Remove", session.csrf,
                                       confirm="Remove this process?"))
    summary = table(("Field", "Value"), [
        ("Id", tag("span", pid, class_="mono")), ("State", state_badge(state)),
        ("Function", spec.get("funcname", "")), ("Executor type", cond.get("executortype", "")),
        ("Label", spec.get("label", "")), ("Priority", spec.get("priority", 0)),
        ("Assigned executor", short(p.get("assignedexecutorid", ""), 16)),
        ("Submitted", when(p.get("submissiontime"))), ("Started", when(p.get("starttime"))),
        ("Ended", when(p.get("endtime"))),
        ("Retries", f"{p.get('retries', 0)} of {spec.get('maxretries', 0)}"),
        ("Workflow", link(url(colony, f"workflows/{p['processgraphid']}"), short(p["processgraphid"]))
         if p.get("processgraphid") else ""),
    ])
    attrs = [[a.get("key", ""), a.get("value", ""), a.get("attributetype", "")] for a in p.get("attributes") or []]
    log_text = "".join(entry.get("message", "") for entry in logs)
    errors = p.get("errors") or []
    body = join([
        tag("h1", join(["Process ", tag("span", short(pid, 16), class_="mono"), " ", state_badge(state)])),
        tag("div", join(actions), class_="actions"),
        tag("section", summary, class_="card"),
        tag("section", join([tag("h2", "Errors"), pretty(errors)]), class_="card bad") if errors else "",
        tag("section", join([tag("h2", "Logs"), tag("pre", log_text or "(no logs yet)", id="logs",
                                                     class_="logs", data_state=STATES[state])]), class_="card"),
        tag("section", join([tag("h2", "Input"), pretty(p.get("in") or []), tag("h2", "Output"),
                             pretty(p.get("out") or [])]), class_="card"),
        tag("section", join([tag("h2", "Attributes"), table(("Key", "Value", "Type"), attrs, empty="None.")]),
            class_="card"),
        tag("section", join([tag("h2", "Function spec"), pretty(spec)]), class_="card"),
    ])
    return ui.respond(request, session, f"Process {short(pid)}", body, colony=colony, active="processes",
                      colonies=await ui.colonies_of(session), live=f"colony={colony}&process={pid}")


async def process_action(ui: Ui, request: Request, session: Session, form: dict[str, str]) -> str:
    colony, pid, verb = _colony(request), request.path_params["processid"], request.path_params["verb"]
    if verb == "cancel":
        await ui.call(session, m.CancelProcessMsg(processid=pid))
        return url(colony, f"processes/{pid}")
    if verb == "remove":
        await ui.call(session, m.RemoveProcessMsg(processid=pid))
        return url(colony, "processes")
    raise BadRequest(f"Unknown action {verb}")


async def workflows(ui: Ui, request: Request, session: Session) -> Response:
    colony = _colony(request)
    state = _int(request.query_params.get("state"), 1, 0, 4)
    graphs = await ui.call(session, m.GetProcessGraphsMsg(colonyname=colony, count=LIST_COUNT, state=state)) or []
    tabs = join(link(url(colony, "workflows", state=i), name, class_="tab on" if i == state else "tab")
                for i, name in enumerate(STATES))
    rows = [[link(url(colony, f"workflows/{g['processgraphid']}"), short(g["processgraphid"]), class_="mono"),
             state_badge(g.get("state", 0)), len(g.get("processids") or []), g.get("initiatorname", ""),
             when(g.get("submissiontime"))] for g in graphs]
    body = join([tag("h1", f"{STATES[state].capitalize()} workflows"),
                 table(("Workflow", "State", "Processes", "Initiator", "Submitted"), rows, id="workflows")])
    return ui.respond(request, session, "Workflows", body, colony=colony, active="workflows",
                      colonies=await ui.colonies_of(session), live=f"colony={colony}",
                      controls=tag("div", tabs, class_="tabs"))


async def workflow(ui: Ui, request: Request, session: Session) -> Response:
    colony, gid = _colony(request), request.path_params["graphid"]
    graph = await ui.call(session, m.GetProcessGraphMsg(processgraphid=gid))
    if graph.get("colonyname") != colony:
        raise BadRequest("This workflow belongs to another colony")
    members = await ui.call(session, m.GetProcessesMsg(colonyname=colony, count=LIST_COUNT, state=-1,
                                                       processgraphid=gid)) or []
    by_id = {p["processid"]: p for p in members}
    state = graph.get("state", 0)
    actions = []
    if state in (0, 1):
        actions.append(form_button(url(colony, f"workflows/{gid}/cancel"), "Cancel workflow", session.csrf,
                                   confirm="Cancel this workflow?"))
    if state != 1:
        actions.append(form_button(url(colony, f"workflows/{gid}/remove"), "Remove workflow", session.csrf,
                                   confirm="Remove this workflow and its processes?"))
    body = join([
        tag("h1", join(["Workflow ", tag("span", short(gid, 16), class_="mono"), " ", state_badge(state)])),
        tag("div", join(actions), class_="actions"),
        tag("section", dag.svg(graph, by_id, lambda pid: url(colony, f"processes/{pid}")), class_="card graph"),
        tag("section", table(PROCESS_HEADERS, _process_rows(colony, members)), class_="card"),
    ])
    return ui.respond(request, session, f"Workflow {short(gid)}", body, colony=colony, active="workflows",
                      colonies=await ui.colonies_of(session), live=f"colony={colony}")


async def workflow_action(ui: Ui, request: Request, session: Session, form: dict[str, str]) -> str:
    colony, gid, verb = _colony(request), request.path_params["graphid"], request.path_params["verb"]
    if verb == "cancel":
        await ui.call(session, m.CancelProcessGraphMsg(processgraphid=gid))
        return url(colony, f"workflows/{gid}")
    if verb == "remove":
        await ui.call(session, m.RemoveProcessGraphMsg(processgraphid=gid))
        return url(colony, "workflows")
    raise BadRequest(f"Unknown action {verb}")


async def executors(ui: Ui, request: Request, session: Session) -> Response:
    colony = _colony(request)
    execs = await ui.call(session, m.GetExecutorsMsg(colonyname=colony)) or []
    info = await ui.call(session, m.GetColonyMsg(colonyname=colony))
    owner = info.get("colonyid") in session.identities
    rows = []
    for e in execs:
        name, state = e.get("executorname", ""), e.get("state", 0)
        buttons = []
        if owner:
            if state != 1:
                buttons.append(form_button(url(colony, f"executors/{name}/approve"), "Approve", session.csrf))
            if state == 0 or state == 1:
                buttons.append(form_button(url(colony, f"executors/{name}/reject"), "Reject", session.csrf))
            if state != 3:
                buttons.append(form_button(url(colony, f"executors/{name}/remove"), "Remove", session.csrf,
                                           confirm=f"Remove executor {name}?"))
        rows.append([name, e.get("executortype", ""), state_badge(state, EXECUTOR_STATES), e.get("locationname", ""),
                     when(e.get("lastheardfromtime")), when(e.get("commissiontime")), join(buttons)])
    note = "" if owner else tag("p", "Approving, rejecting and removing executors needs the colony owner key.",
                                class_="muted")
    body = join([tag("h1", "Executors"), note,
                 table(("Name", "Type", "State", "Location", "Last heard from", "Registered", ""), rows,
                       id="executors")])
    return ui.respond(request, session, "Executors", body, colony=colony, active="executors",
                      colonies=await ui.colonies_of(session), live=f"colony={colony}")


async def executor_action(ui: Ui, request: Request, session: Session, form: dict[str, str]) -> str:
    colony, name, verb = _colony(request), request.path_params["name"], request.path_params["verb"]
    msg = {"approve": m.ApproveExecutorMsg, "reject": m.RejectExecutorMsg, "remove": m.RemoveExecutorMsg}.get(verb)
    if msg is None:
        raise BadRequest(f"Unknown action {verb}")
    await ui.call(session, msg(colonyname=colony, executorname=name))
    return url(colony, "executors")


async def functions(ui: Ui, request: Request, session: Session) -> Response:
    colony = _colony(request)
    funcs = await ui.call(session, m.GetFunctionsMsg(colonyname=colony, executorname="")) or []
    rows = [[f.get("funcname", ""), f.get("executorname", ""), f.get("executortype", ""), f.get("counter", 0),
             seconds(f.get("avgwaittime", 0.0)), seconds(f.get("avgexectime", 0.0)),
             f"{seconds(f.get('minexectime', 0.0))} – {seconds(f.get('maxexectime', 0.0))}"] for f in funcs]
    body = join([tag("h1", "Functions"), table(("Function", "Executor", "Type", "Calls", "Avg wait", "Avg run",
                                                "Run min – max"), rows, id="functions")])
    return ui.respond(request, session, "Functions", body, colony=colony, active="functions",
                      colonies=await ui.colonies_of(session), live=f"colony={colony}")


async def crons(ui: Ui, request: Request, session: Session) -> Response:
    colony = _colony(request)
    cron_list = await ui.call(session, m.GetCronsMsg(colonyname=colony, count=LIST_COUNT)) or []
    gens = await ui.call(session, m.GetGeneratorsMsg(colonyname=colony, count=LIST_COUNT)) or []
    cron_rows = [[c.get("name", ""), c.get("cronexpression") or (f"every {c.get('interval')} s"),
                  when(c.get("nextrun")), when(c.get("lastrun")),
                  link(url(colony, f"workflows/{c['prevprocessgraphid']}"), short(c["prevprocessgraphid"]))
                  if c.get("prevprocessgraphid") else ""] for c in cron_list]
    gen_rows = [[g.get("name", ""), g.get("trigger", 0), f"{g.get('timeout', -1)} s", g.get("queuesize", 0),
                 when(g.get("lastrun"))] for g in gens]
    body = join([tag("h1", "Crons"), table(("Name", "Schedule", "Next run", "Last run", "Last workflow"), cron_rows,
                                           empty="No crons.", id="crons"),
                 tag("h1", "Generators"), table(("Name", "Trigger", "Timeout", "Queued", "Last run"), gen_rows,
                                                empty="No generators.", id="generators")])
    return ui.respond(request, session, "Crons & generators", body, colony=colony, active="crons",
                      colonies=await ui.colonies_of(session), live=f"colony={colony}")


async def logs(ui: Ui, request: Request, session: Session) -> Response:
    colony = _colony(request)
    text = request.query_params.get("q", "")
    days = _int(request.query_params.get("days"), 1, 1, 30)
    found = await ui.call(session, m.SearchLogsMsg(colonyname=colony, text=text, days=days, count=100)) if text else []
    rows = [[when(entry.get("timestamp")), entry.get("executorname", ""),
             link(url(colony, f"processes/{entry['processid']}"), short(entry["processid"]), class_="mono")
             if entry.get("processid") else "", tag("code", entry.get("message", ""))] for entry in found or []]
    controls = Safe(f'<form method="get" class="filters"><label>Search logs <input name="q" value="{esc(text)}" '
                    f'required></label><label>Days <input name="days" type="number" min="1" max="30" '
                    f'value="{days}"></label><button type="submit">Search</button></form>')
    body = join([tag("h1", "Logs"), table(("Time", "Executor", "Process", "Message"), rows,
                                          empty="Type a text to search the logs of this colony." if not text
                                          else "No log line matches.", id="logs")])
    return ui.respond(request, session, "Logs", body, colony=colony, active="logs",
                      colonies=await ui.colonies_of(session), controls=controls)


async def files(ui: Ui, request: Request, session: Session) -> Response:
    colony = _colony(request)
    label = request.query_params.get("label", "")
    labels = await ui.call(session, m.GetFileLabelsMsg(colonyname=colony, name="", exact=False)) or []
    label_rows = [[link(url(colony, "files", label=lb["name"]), lb["name"]), lb.get("files", 0)] for lb in labels]
    parts = [tag("h1", "Files"), table(("Label", "Files"), label_rows, empty="No files in this colony.", id="labels")]
    if label:
        listing = await ui.call(session, m.GetFilesMsg(colonyname=colony, label=label)) or []
        rows = [[f.get("name", ""), f.get("size", 0), tag("span", short(f.get("checksum", ""), 16), class_="mono")]
                for f in listing]
        parts += [tag("h2", f"Label {label}"), table(("Name", "Size (bytes)", "Checksum"), rows, id="files")]
    snaps = await ui.call(session, m.GetSnapshotsMsg(colonyname=colony)) or []
    snap_rows = [[s.get("name", ""), s.get("label", ""), len(s.get("fileids") or []), when(s.get("added"))]
                 for s in snaps]
    parts += [tag("h2", "Snapshots"), table(("Name", "Label", "Files", "Created"), snap_rows, empty="No snapshots.",
                                            id="snapshots")]
    return ui.respond(request, session, "Files", join(parts), colony=colony, active="files",
                      colonies=await ui.colonies_of(session))


async def server(ui: Ui, request: Request, session: Session) -> Response:
    info = await ui.call(session, m.GetServerInfoMsg())
    stats = await ui.maybe(session, m.GetStatisticsMsg())
    colonies = await ui.colonies_of(session)
    cfg = ui.services.config
    observer = ui.services.observer
    rows: list[tuple[str, Any]] = [("Version", info.get("buildversion", "")), ("Build time", info.get("buildtime", "")),
                                   ("Listening on", f"{cfg.host}:{cfg.port}" + (" (TLS)" if cfg.tls_cert else "")),
                                   ("Database", "SQLite, synchronous=" + cfg.synchronous)]
    if observer is not None:
        rows.append(("Up for", seconds(time.time() - observer.started)))
        rows.append(("Statistics refreshed", when(int(observer.refreshed_at * 1e9))))
    if cfg.metrics:
        rows.append(("Prometheus metrics", link("/metrics", "/metrics")))
    parts = [tag("h1", "Server"), tag("section", table(("", ""), rows), class_="card")]
    if stats is not None:  # the server owner: fleet statistics, and each colony's counts
        parts.append(tag("section", join([tag("h2", "All colonies"), table(("Statistic", "Value"), sorted(
            stats.items()))]), class_="card"))
        if observer is not None:
            counts = []
            for c in colonies:
                cs = observer.statistics(c)
                counts.append([link(url(c), c), *(cs[f"{n}processes"] for n in STATES), cs["activeexecutors"]])
            parts.append(tag("section", join([tag("h2", "Colonies"), table(
                ("Colony", *STATES, "Approved executors"), counts, id="colony-counts")]), class_="card"))
    parts.append(tag("section", join([tag("h2", "Your colonies"), table(
        ("Colony",), [[link(url(c), c)] for c in colonies], empty="None.")]), class_="card"))
    return ui.respond(request, session, "Server", join(parts), colony=colonies[0] if colonies else "",
                      active="server", colonies=colonies)
