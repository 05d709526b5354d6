"""`colonies location …`: add and remove a colony's locations (colony owner), list and show them
(members). Flags, tables and messages follow the Go CLI (`internal/cli/location.go`)."""
from __future__ import annotations

import argparse

from ..ids import new_id
from ..models.location import Location
from ..rpc.locations import AddLocationMsg, GetLocationMsg, GetLocationsMsg, RemoveLocationMsg
from .common import Session, add_colony_key, add_command, add_group, add_json, confirm
from .output import info, print_json
from .table import kv_table, list_table


def _add(args: argparse.Namespace) -> int:
    s = Session(args)
    location = Location(locationid=new_id(), name=args.name, colonyname=s.colonyname, description=args.desc or "",
                        long=args.long, lat=args.lat)
    added = s.rpc(AddLocationMsg(location=location), s.colony_prvkey, reply=Location)
    if args.json:
        print_json(added)
        return 0
    info("Location added", ColonyName=s.colonyname, Description=added.description, Lat=added.lat,
         LocationID=added.locationid, Long=added.long, Name=added.name)
    return 0


def _ls(args: argparse.Namespace) -> int:
    s = Session(args)
    locations = s.rpc(GetLocationsMsg(colonyname=s.colonyname), s.prvkey, reply=list[Location] | None) or []
    if args.json:
        print_json(locations)
    elif not locations:
        info("No locations found", ColonyName=s.colonyname)
    else:
        list_table(["NAME", "DESCRIPTION", "LONG", "LAT"],
                   [(loc.name, loc.description, f"{loc.long:.4f}", f"{loc.lat:.4f}") for loc in locations])
    return 0


def _get(args: argparse.Namespace) -> int:
    s = Session(args)
    loc = s.rpc(GetLocationMsg(colonyname=s.colonyname, name=args.name), s.prvkey, reply=Location)
    if args.json:
        print_json(loc)
    else:
        kv_table([("Name", loc.name), ("LocationID", loc.locationid), ("Colony", loc.colonyname),
                  ("Description", loc.description), ("Longitude", f"{loc.long:f}"), ("Latitude", f"{loc.lat:f}")])
    return 0


def _remove(args: argparse.Namespace) -> int:
    s = Session(args)
    colonyname, key = s.colonyname, s.colony_prvkey
    confirm(f"WARNING!!! Are you sure you want to remove location <{args.name}> in colony <{colonyname}>?", args.yes)
    s.rpc(RemoveLocationMsg(colonyname=colonyname, name=args.name), key)
    info("Location removed", ColonyName=colonyname, LocationName=args.name)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    g = add_group(sub, "location", "Manage locations", aliases=["locations"])
    p = add_command(g, "add", "Add a new location to the colony (colony owner)", _add)
    p.add_argument("--name", required=True, help="location name (unique in the colony)")
    p.add_argument("--desc", default="", help="location description")
    p.add_argument("--long", type=float, default=0.0, help="longitude, -180 to 180")
    p.add_argument("--lat", type=float, default=0.0, help="latitude, -90 to 90")
    add_colony_key(p)
    add_json(p)
    p = add_command(g, "ls", "List the locations of the colony", _ls)
    add_json(p)
    p = add_command(g, "get", "Get info about a location", _get)
    p.add_argument("--name", required=True, help="location name")
    add_json(p)
    p = add_command(g, "remove", "Remove a location from the colony (colony owner)", _remove)
    p.add_argument("--name", required=True, help="location name")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    add_colony_key(p)
