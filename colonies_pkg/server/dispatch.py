"""Where every RPC message is handled: HANDLERS maps a message Struct to a short handler.

A handler authorizes and acts through one domain unit of work (run by the writer or a reader)
and returns the reply: a Struct, a list, None (→ `{}`), or a `Reply` with another payloadtype.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from ..domain import attributes, colonies, crons, executors, files, generators, logs, processes, workflows
from ..rpc import messages as m
from ..rpc.base import Msg
from ..rpc.replies import PauseStatusReply
from . import longpoll
from .context import Context, Handler


class Reply(NamedTuple):
    payloadtype: str
    body: Any


# --- server -----------------------------------------------------------------------------------
async def version(ctx: Context, msg: m.VersionMsg) -> Any:
    from .. import __version__

    cfg = ctx.services.config
    return m.VersionMsg(buildversion=cfg.build_version or __version__, buildtime=cfg.build_time)


async def server_info(ctx: Context, msg: m.GetServerInfoMsg) -> Any:
    from .. import __version__

    cfg = ctx.services.config
    info: dict[str, Any] = {
        "buildversion": cfg.build_version or __version__, "buildtime": cfg.build_time,
        "backends": [{"type": "http", "port": cfg.port, "host": cfg.host}],
    }
    if cfg.tls_cert:
        info["tls"] = True
    return info


async def statistics(ctx: Context, msg: m.GetStatisticsMsg) -> Any:
    return await ctx.read(colonies.server_statistics)


async def change_server_id(ctx: Context, msg: m.ChangeServerIdMsg) -> Any:
    await ctx.write(colonies.change_server_id, msg.serverid)
    return msg


async def cluster(ctx: Context, msg: m.GetClusterMsg) -> Any:
    await ctx.read(colonies.list_colonies)  # server owner only
    cfg = ctx.services.config
    node = {"name": "colonies-py", "host": cfg.host, "apiport": cfg.port, "etcdclientport": 0, "etcdpeerport": 0,
            "relayport": 0}
    return {"nodes": [node], "leader": node}


# --- colonies and users -----------------------------------------------------------------------
async def add_colony(ctx: Context, msg: m.AddColonyMsg) -> Any:
    return await ctx.write(colonies.add_colony, msg.colony)


async def remove_colony(ctx: Context, msg: m.RemoveColonyMsg) -> Any:
    await ctx.write(colonies.remove_colony, msg.colonyname)


async def list_colonies(ctx: Context, msg: m.GetColoniesMsg) -> Any:
    return await ctx.read(colonies.list_colonies)


async def get_colony(ctx: Context, msg: m.GetColonyMsg) -> Any:
    return await ctx.read(colonies.get_colony, msg.colonyname)


async def colony_stats(ctx: Context, msg: m.GetColonyStatsMsg) -> Any:
    return await ctx.read(colonies.colony_statistics, msg.colonyname)


async def change_colony_id(ctx: Context, msg: m.ChangeColonyIdMsg) -> Any:
    await ctx.write(colonies.change_colony_id, msg.colonyname, msg.colonyid)
    return msg


async def add_user(ctx: Context, msg: m.AddUserMsg) -> Any:
    return await ctx.write(colonies.add_user, msg.user)


async def list_users(ctx: Context, msg: m.GetUsersMsg) -> Any:
    return await ctx.read(colonies.list_users, msg.colonyname)


async def get_user(ctx: Context, msg: m.GetUserMsg) -> Any:
    return await ctx.read(colonies.get_user, msg.colonyname, msg.name)


async def get_user_by_id(ctx: Context, msg: m.GetUserByIdMsg) -> Any:
    return await ctx.read(colonies.get_user_by_id, msg.colonyname, msg.userid)


async def remove_user(ctx: Context, msg: m.RemoveUserMsg) -> Any:
    await ctx.write(colonies.remove_user, msg.colonyname, msg.name)


async def change_user_id(ctx: Context, msg: m.ChangeUserIdMsg) -> Any:
    await ctx.write(colonies.change_user_id, msg.colonyname, msg.userid)
    return msg


# --- executors and functions ------------------------------------------------------------------
async def add_executor(ctx: Context, msg: m.AddExecutorMsg) -> Any:
    return await ctx.write(executors.add_executor, msg.executor, ctx.services.config.allow_executor_reregister)


async def list_executors(ctx: Context, msg: m.GetExecutorsMsg) -> Any:
    return await ctx.read(executors.list_executors, msg.colonyname)


async def get_executor(ctx: Context, msg: m.GetExecutorMsg) -> Any:
    return await ctx.read(executors.get_executor, msg.colonyname, msg.executorname)


async def get_executor_by_id(ctx: Context, msg: m.GetExecutorByIdMsg) -> Any:
    return await ctx.read(executors.get_executor_by_id, msg.colonyname, msg.executorid)


async def approve_executor(ctx: Context, msg: m.ApproveExecutorMsg) -> Any:
    await ctx.write(executors.approve_executor, msg.colonyname, msg.executorname)


async def reject_executor(ctx: Context, msg: m.RejectExecutorMsg) -> Any:
    await ctx.write(executors.reject_executor, msg.colonyname, msg.executorname)


async def remove_executor(ctx: Context, msg: m.RemoveExecutorMsg) -> Any:
    await ctx.write(executors.remove_executor, msg.colonyname, msg.executorname)


async def change_executor_id(ctx: Context, msg: m.ChangeExecutorIdMsg) -> Any:
    await ctx.write(executors.change_executor_id, msg.colonyname, msg.executorid)
    return msg


async def report_allocation(ctx: Context, msg: m.ReportAllocationMsg) -> Any:
    await ctx.write(executors.report_allocations, msg.colonyname, msg.executorname, msg.allocations)


async def update_executor(ctx: Context, msg: m.UpdateExecutorMsg) -> Any:
    await ctx.write(executors.update_capabilities, msg.colonyname, msg.executorname, msg.capabilities)


async def add_function(ctx: Context, msg: m.AddFunctionMsg) -> Any:
    return await ctx.write(executors.add_function, msg.fun)


async def list_functions(ctx: Context, msg: m.GetFunctionsMsg) -> Any:
    return await ctx.read(executors.list_functions, msg.colonyname, msg.executorname)


async def remove_function(ctx: Context, msg: m.RemoveFunctionMsg) -> Any:
    await ctx.write(executors.remove_function, msg.functionid)


# --- processes --------------------------------------------------------------------------------
async def list_processes(ctx: Context, msg: m.GetProcessesMsg) -> Any:
    return await ctx.read(processes.list_processes, msg.colonyname, msg.count, msg.state, msg.executortype,
                          msg.label, msg.initiator, msg.processgraphid)


async def get_process(ctx: Context, msg: m.GetProcessMsg) -> Any:
    return await ctx.read(processes.get, msg.processid)


async def remove_process(ctx: Context, msg: m.RemoveProcessMsg) -> Any:
    await ctx.write(processes.remove, msg.processid)


async def remove_all_processes(ctx: Context, msg: m.RemoveAllProcessesMsg) -> Any:
    await ctx.write(processes.remove_all, msg.colonyname, msg.state)


async def close_successful(ctx: Context, msg: m.CloseSuccessfulMsg) -> Any:
    await ctx.write(processes.close_successful, msg.processid, msg.out)


async def close_failed(ctx: Context, msg: m.CloseFailedMsg) -> Any:
    await ctx.write(processes.close_failed, msg.processid, msg.errors)


async def set_output(ctx: Context, msg: m.SetOutputMsg) -> Any:
    await ctx.write(processes.set_output, msg.processid, msg.out)


async def cancel_process(ctx: Context, msg: m.CancelProcessMsg) -> Any:
    await ctx.write(processes.cancel, msg.processid)


async def pause(ctx: Context, msg: m.PauseAssignmentsMsg) -> Any:
    await ctx.write(processes.pause, msg.colonyname)


async def resume(ctx: Context, msg: m.ResumeAssignmentsMsg) -> Any:
    await ctx.write(processes.resume, msg.colonyname)


async def pause_status(ctx: Context, msg: m.GetPauseStatusMsg) -> Any:
    paused = await ctx.read(processes.pause_status, msg.colonyname)
    return Reply("pausestatusreplymsg", PauseStatusReply(colonyname=msg.colonyname, ispaused=bool(paused)))


async def process_history(ctx: Context, msg: m.GetProcessHistMsg) -> Any:
    return await ctx.read(processes.history, msg.colonyname, msg.executorid, msg.seconds, msg.state)


# --- workflows --------------------------------------------------------------------------------
async def submit_workflow(ctx: Context, msg: m.SubmitWorkflowSpecMsg) -> Any:
    return await ctx.write(workflows.submit, msg.spec)


async def get_graph(ctx: Context, msg: m.GetProcessGraphMsg) -> Any:
    return await ctx.read(workflows.get, msg.processgraphid)


async def list_graphs(ctx: Context, msg: m.GetProcessGraphsMsg) -> Any:
    return await ctx.read(workflows.list_graphs, msg.colonyname, msg.count, msg.state)


async def remove_graph(ctx: Context, msg: m.RemoveProcessGraphMsg) -> Any:
    await ctx.write(workflows.remove, msg.processgraphid)


async def remove_all_graphs(ctx: Context, msg: m.RemoveAllProcessGraphsMsg) -> Any:
    await ctx.write(workflows.remove_all, msg.colonyname, msg.state)


async def cancel_graph(ctx: Context, msg: m.CancelProcessGraphMsg) -> Any:
    await ctx.write(workflows.cancel, msg.processgraphid)


async def add_child(ctx: Context, msg: m.AddChildMsg) -> Any:
    return await ctx.write(workflows.add_child, msg.processgraphid, msg.parentprocessid, msg.childprocessid,
                           msg.spec, msg.insert)


# --- crons and generators ---------------------------------------------------------------------
async def add_cron(ctx: Context, msg: m.AddCronMsg) -> Any:
    return await ctx.write(crons.add, msg.cron)


async def get_cron(ctx: Context, msg: m.GetCronMsg) -> Any:
    return await ctx.read(crons.get, msg.cronid)


async def list_crons(ctx: Context, msg: m.GetCronsMsg) -> Any:
    return await ctx.read(crons.list_crons, msg.colonyname, msg.count)


async def remove_cron(ctx: Context, msg: m.RemoveCronMsg) -> Any:
    await ctx.write(crons.remove, msg.cronid)


async def run_cron(ctx: Context, msg: m.RunCronMsg) -> Any:
    return await ctx.write(crons.run_now, msg.cronid)


async def add_generator(ctx: Context, msg: m.AddGeneratorMsg) -> Any:
    return await ctx.write(generators.add, msg.generator)


async def get_generator(ctx: Context, msg: m.GetGeneratorMsg) -> Any:
    return await ctx.read(generators.get, msg.generatorid)


async def resolve_generator(ctx: Context, msg: m.ResolveGeneratorMsg) -> Any:
    return await ctx.read(generators.resolve, msg.colonyname, msg.generatorname)


async def list_generators(ctx: Context, msg: m.GetGeneratorsMsg) -> Any:
    return await ctx.read(generators.list_generators, msg.colonyname, msg.count)


async def pack_generator(ctx: Context, msg: m.PackGeneratorMsg) -> Any:
    await ctx.write(generators.pack, msg.generatorid, msg.arg)


async def remove_generator(ctx: Context, msg: m.RemoveGeneratorMsg) -> Any:
    await ctx.write(generators.remove, msg.generatorid)


# --- colonies file system ---------------------------------------------------------------------
async def add_file(ctx: Context, msg: m.AddFileMsg) -> Any:
    return await ctx.write(files.add_file, msg.file)


async def get_file(ctx: Context, msg: m.GetFileMsg) -> Any:
    return await ctx.read(files.get_file, msg.colonyname, msg.fileid or "", msg.label or "", msg.name or "",
                          msg.latest)


async def get_files(ctx: Context, msg: m.GetFilesMsg) -> Any:
    return await ctx.read(files.list_files, msg.colonyname, msg.label or "")


async def get_file_labels(ctx: Context, msg: m.GetFileLabelsMsg) -> Any:
    return await ctx.read(files.list_labels, msg.colonyname, msg.name or "", msg.exact)


async def remove_file(ctx: Context, msg: m.RemoveFileMsg) -> Any:
    return await ctx.write(files.remove_file, msg.colonyname, msg.fileid or "", msg.label or "", msg.name or "")


async def create_snapshot(ctx: Context, msg: m.CreateSnapshotMsg) -> Any:
    return await ctx.write(files.create_snapshot, msg.colonyname, msg.label or "", msg.name or "")


async def get_snapshot(ctx: Context, msg: m.GetSnapshotMsg) -> Any:
    return await ctx.read(files.get_snapshot, msg.colonyname, msg.snapshotid or "", msg.name or "")


async def get_snapshots(ctx: Context, msg: m.GetSnapshotsMsg) -> Any:
    return await ctx.read(files.list_snapshots, msg.colonyname)


async def remove_snapshot(ctx: Context, msg: m.RemoveSnapshotMsg) -> Any:
    return await ctx.write(files.remove_snapshot, msg.colonyname, msg.snapshotid or "", msg.name or "")


async def remove_all_snapshots(ctx: Context, msg: m.RemoveAllSnapshotMsg) -> Any:
    return await ctx.write(files.remove_all_snapshots, msg.colonyname)


# --- attributes and logs ----------------------------------------------------------------------
async def add_attribute(ctx: Context, msg: m.AddAttributeMsg) -> Any:
    return await ctx.write(attributes.add_attribute, msg.attribute)


async def get_attribute(ctx: Context, msg: m.GetAttributeMsg) -> Any:
    return await ctx.read(attributes.get_attribute, msg.attributeid)


async def add_log(ctx: Context, msg: m.AddLogMsg) -> Any:
    await ctx.write(logs.add_log, msg.processid, msg.message)


async def add_executor_log(ctx: Context, msg: m.AddExecutorLogMsg) -> Any:
    await ctx.write(logs.add_executor_log, msg.colonyname, msg.executorname, msg.message)


async def get_logs(ctx: Context, msg: m.GetLogsMsg) -> Any:
    return await ctx.read(logs.get_logs, msg.colonyname, msg.processid, msg.executorname, msg.count, msg.since,
                          msg.latest)


async def search_logs(ctx: Context, msg: m.SearchLogsMsg) -> Any:
    return await ctx.read(logs.search_logs, msg.colonyname, msg.text, msg.days, msg.count)


HANDLERS: dict[type[Msg], Handler] = {
    m.VersionMsg: version,
    m.GetServerInfoMsg: server_info,
    m.GetStatisticsMsg: statistics,
    m.ChangeServerIdMsg: change_server_id,
    m.GetClusterMsg: cluster,
    m.AddColonyMsg: add_colony,
    m.RemoveColonyMsg: remove_colony,
    m.GetColoniesMsg: list_colonies,
    m.GetColonyMsg: get_colony,
    m.GetColonyStatsMsg: colony_stats,
    m.ChangeColonyIdMsg: change_colony_id,
    m.AddUserMsg: add_user,
    m.GetUsersMsg: list_users,
    m.GetUserMsg: get_user,
    m.GetUserByIdMsg: get_user_by_id,
    m.RemoveUserMsg: remove_user,
    m.ChangeUserIdMsg: change_user_id,
    m.AddExecutorMsg: add_executor,
    m.GetExecutorsMsg: list_executors,
    m.GetExecutorMsg: get_executor,
    m.GetExecutorByIdMsg: get_executor_by_id,
    m.ApproveExecutorMsg: approve_executor,
    m.RejectExecutorMsg: reject_executor,
    m.RemoveExecutorMsg: remove_executor,
    m.ChangeExecutorIdMsg: change_executor_id,
    m.ReportAllocationMsg: report_allocation,
    m.UpdateExecutorMsg: update_executor,
    m.AddFunctionMsg: add_function,
    m.GetFunctionsMsg: list_functions,
    m.RemoveFunctionMsg: remove_function,
    m.SubmitFuncSpecMsg: longpoll.submit,
    m.AssignProcessMsg: longpoll.assign,
    m.GetProcessesMsg: list_processes,
    m.GetProcessMsg: get_process,
    m.RemoveProcessMsg: remove_process,
    m.RemoveAllProcessesMsg: remove_all_processes,
    m.CloseSuccessfulMsg: close_successful,
    m.CloseFailedMsg: close_failed,
    m.SetOutputMsg: set_output,
    m.CancelProcessMsg: cancel_process,
    m.PauseAssignmentsMsg: pause,
    m.ResumeAssignmentsMsg: resume,
    m.GetPauseStatusMsg: pause_status,
    m.GetProcessHistMsg: process_history,
    m.SubmitWorkflowSpecMsg: submit_workflow,
    m.GetProcessGraphMsg: get_graph,
    m.GetProcessGraphsMsg: list_graphs,
    m.RemoveProcessGraphMsg: remove_graph,
    m.RemoveAllProcessGraphsMsg: remove_all_graphs,
    m.CancelProcessGraphMsg: cancel_graph,
    m.AddChildMsg: add_child,
    m.AddCronMsg: add_cron,
    m.GetCronMsg: get_cron,
    m.GetCronsMsg: list_crons,
    m.RemoveCronMsg: remove_cron,
    m.RunCronMsg: run_cron,
    m.AddGeneratorMsg: add_generator,
    m.GetGeneratorMsg: get_generator,
    m.ResolveGeneratorMsg: resolve_generator,
    m.GetGeneratorsMsg: list_generators,
    m.PackGeneratorMsg: pack_generator,
    m.RemoveGeneratorMsg: remove_generator,
    m.AddFileMsg: add_file,
    m.GetFileMsg: get_file,
    m.GetFilesMsg: get_files,
    m.GetFileLabelsMsg: get_file_labels,
    m.RemoveFileMsg: remove_file,
    m.CreateSnapshotMsg: create_snapshot,
    m.GetSnapshotMsg: get_snapshot,
    m.GetSnapshotsMsg: get_snapshots,
    m.RemoveSnapshotMsg: remove_snapshot,
    m.RemoveAllSnapshotMsg: remove_all_snapshots,
    m.AddAttributeMsg: add_attribute,
    m.GetAttributeMsg: get_attribute,
    m.AddLogMsg: add_log,
    m.AddExecutorLogMsg: add_executor_log,
    m.GetLogsMsg: get_logs,
    m.SearchLogsMsg: search_logs,
}

# Messages whose handlers live in their own modules.
from . import blueprints as _blueprints  # noqa: E402
from . import channels as _channels  # noqa: E402
from . import locations as _locations  # noqa: E402

HANDLERS.update(_blueprints.HANDLERS)
HANDLERS.update(_channels.HANDLERS)
HANDLERS.update(_locations.HANDLERS)
