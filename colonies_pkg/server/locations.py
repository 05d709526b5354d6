"""Handlers of the location messages (each one domain unit of work)."""
from __future__ import annotations

from typing import Any

from ..domain import locations
from ..rpc import locations as msgs
from ..rpc.base import Msg
from .context import Context, Handler


async def add_location(ctx: Context, msg: msgs.AddLocationMsg) -> Any:
    return await ctx.write(locations.add, msg.location)


async def get_locations(ctx: Context, msg: msgs.GetLocationsMsg) -> Any:
    return await ctx.read(locations.list_locations, msg.colonyname)


async def get_location(ctx: Context, msg: msgs.GetLocationMsg) -> Any:
    return await ctx.read(locations.get, msg.colonyname, msg.name)


async def remove_location(ctx: Context, msg: msgs.RemoveLocationMsg) -> Any:
    await ctx.write(locations.remove, msg.colonyname, msg.name)


HANDLERS: dict[type[Msg], Handler] = {
    msgs.AddLocationMsg: add_location,
    msgs.GetLocationsMsg: get_locations,
    msgs.GetLocationMsg: get_location,
    msgs.RemoveLocationMsg: remove_location,
}
