"""Handlers of the twelve blueprint messages; merged into `dispatch.HANDLERS`.

Each authorizes and acts in one domain unit of work (`domain.blueprints`): a write for anything
that stores or submits, a read otherwise.
"""
from __future__ import annotations

from typing import Any

from ..domain import blueprints
from ..rpc import blueprints as m
from ..rpc.base import Msg
from .context import Context, Handler


async def add_definition(ctx: Context, msg: m.AddBlueprintDefinitionMsg) -> Any:
    return await ctx.write(blueprints.add_definition, msg.blueprintdefinition)


async def get_definition(ctx: Context, msg: m.GetBlueprintDefinitionMsg) -> Any:
    return await ctx.read(blueprints.get_definition, msg.colonyname, msg.name)


async def list_definitions(ctx: Context, msg: m.GetBlueprintDefinitionsMsg) -> Any:
    return await ctx.read(blueprints.list_definitions, msg.colonyname)


async def remove_definition(ctx: Context, msg: m.RemoveBlueprintDefinitionMsg) -> Any:
    await ctx.write(blueprints.remove_definition, msg.namespace, msg.name)


async def add_blueprint(ctx: Context, msg: m.AddBlueprintMsg) -> Any:
    return await ctx.write(blueprints.add_blueprint, msg.blueprint)


async def get_blueprint(ctx: Context, msg: m.GetBlueprintMsg) -> Any:
    return await ctx.read(blueprints.get_blueprint, msg.namespace, msg.name)


async def list_blueprints(ctx: Context, msg: m.GetBlueprintsMsg) -> Any:
    return await ctx.read(blueprints.list_blueprints, msg.namespace, msg.kind, msg.locationname)


async def update_blueprint(ctx: Context, msg: m.UpdateBlueprintMsg) -> Any:
    return await ctx.write(blueprints.update_blueprint, msg.blueprint, msg.forcegeneration)


async def remove_blueprint(ctx: Context, msg: m.RemoveBlueprintMsg) -> Any:
    await ctx.write(blueprints.remove_blueprint, msg.namespace, msg.name)


async def update_status(ctx: Context, msg: m.UpdateBlueprintStatusMsg) -> Any:
    await ctx.write(blueprints.update_status, msg.colonyname, msg.blueprintname, msg.status)


async def reconcile(ctx: Context, msg: m.ReconcileBlueprintMsg) -> Any:
    return await ctx.write(blueprints.reconcile, msg.namespace, msg.name, msg.force)


async def history(ctx: Context, msg: m.GetBlueprintHistoryMsg) -> Any:
    return await ctx.read(blueprints.history, msg.blueprintid, msg.limit)


HANDLERS: dict[type[Msg], Handler] = {
    m.AddBlueprintDefinitionMsg: add_definition,
    m.GetBlueprintDefinitionMsg: get_definition,
    m.GetBlueprintDefinitionsMsg: list_definitions,
    m.RemoveBlueprintDefinitionMsg: remove_definition,
    m.AddBlueprintMsg: add_blueprint,
    m.GetBlueprintMsg: get_blueprint,
    m.GetBlueprintsMsg: list_blueprints,
    m.UpdateBlueprintMsg: update_blueprint,
    m.RemoveBlueprintMsg: remove_blueprint,
    m.UpdateBlueprintStatusMsg: update_status,
    m.ReconcileBlueprintMsg: reconcile,
    m.GetBlueprintHistoryMsg: history,
}
