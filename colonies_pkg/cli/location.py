"""`colonies location …`: add and remove a colony's locations (colony owner), list and show them
(members). Flags, tables and messages follow the Go CLI (`internal/cli/location.go`)."""
from __future__ import annotations

import argparse

from ..ids import new_id
from .common import Session, add_colony_key, add_command, add_group, add_json, confirm
from .output import info, print_json
from .table import kv_table, list_table


def _add(args: argparse.Namespace) -> int:
    s = Session(args)
    location = {"locationid": new_id(), "name": args.name, "colonyname": s.colonyname, "description": args.desc or "",
                "long": args.long, "lat": args.lat}
    added = s.rpc({"msgtype": "addlocationmsg", "location": location}, s.colony_prvkey)
    if args.json:
        print_json(added)
        return 0
    info("Location added", ColonyName=s.colonyname, Description=added.get("description", ""), Lat=added.get("lat", 0),
         LocationID=added.get("locationid", ""), Long=added.get("long", 0), Name=added.get("name", ""))
    return 0


def _ls(args: argparse.Namespace) -> int:
    s = Session(args)
    locations = s.rpc({"msgtype": "getlocationsmsg", "colonyname": s.colonyname}, s.prvkey) or []
    if args.json:
        print_json(locations)
    elif not locations:
        info("No locations found", ColonyName=s.colonyname)
    else:
        list_table(["NAME", "DESCRIPTION", "LONG", "LAT"],
                   [(loc.get("name", ""), loc.get("description", ""), f"{loc.get('long', 0):.4f}",
                     f"{loc.get('lat', 0):.4f}") for loc in locations])
    return 0


def _get(args: argparse.Namespace) -> int:
    s = Session(args)
    loc = s.rpc({"msgtype": "getlocationmsg", "colonyname": s.colonyname, "name": args.name}, s.prvkey)
    if args.json:
        print_json(loc)
    else:
        kv_table([("Name", loc.get("name", "")), ("LocationID", loc.get("locationid", "")),
                  ("Colony", loc.get("colonyname", "")), ("Description", loc.get("description", "")),
                  ("Longitude", f"{loc.get('long', 0):f}"), ("Latitude", f"{loc.get('lat', 0):f}")])
    return 0


def _remove(args: argparse.Namespace) -> int:
    s = Session(args)
    colonyname, key = s.colonyname, s.colony_prvkey
    confirm(f"WARNING!!! Are you sure you want to remove location <{args.name}> in colony <{colonyname}>?", args.yes)
    s.rpc({"msgtype": "removelocationmsg", "colonyname": colonyname, "name": args.name}, key)
    info("Location removed", ColonyName=colonyname, LocationName=args.name)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
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
