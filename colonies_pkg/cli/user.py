"""`colonies user …`: add and remove users (colony owner), list and show them (members), and
change the calling user's id."""
from __future__ import annotations

import argparse

from ..models.colony import User
from ..rpc.messages import AddUserMsg, ChangeUserIdMsg, GetUserMsg, GetUsersMsg, RemoveUserMsg
from .common import Session, add_colony_key, add_command, add_group, add_json
from .output import info, print_json, warn
from .table import kv_table, list_table


def _add(args: argparse.Namespace) -> int:
    s = Session(args)
    user = User(colonyname=s.colonyname, userid=args.userid, name=args.name, email=args.email or "",
                phone=args.phone or "")
    s.rpc(AddUserMsg(user=user), s.colony_prvkey)
    info("User added", ColonyName=s.colonyname, Email=user.email, Phone=user.phone, UserId=args.userid,
         Username=args.name)
    return 0


def _ls(args: argparse.Namespace) -> int:
    s = Session(args)
    users = s.rpc(GetUsersMsg(colonyname=s.colonyname), s.prvkey, reply=list[User] | None) or []
    if args.json:
        print_json(users)
    elif not users:
        warn("No users found", ColonyName=s.colonyname)
    else:
        list_table(["USERNAME", "EMAIL", "PHONE"], [(u.name, u.email, u.phone) for u in users])
    return 0


def _get(args: argparse.Namespace) -> int:
    s = Session(args)
    u = s.rpc(GetUserMsg(colonyname=s.colonyname, name=args.name), s.prvkey, reply=User)
    if args.json:
        print_json(u)
    else:
        kv_table([("Username", u.name), ("UserId", u.userid), ("Phone", u.phone), ("Email", u.email),
                  ("Colony", u.colonyname)])
    return 0


def _remove(args: argparse.Namespace) -> int:
    s = Session(args)
    s.rpc(RemoveUserMsg(colonyname=s.colonyname, name=args.name), s.colony_prvkey)
    info("User removed", ColonyName=s.colonyname, Username=args.name)
    return 0


def _chid(args: argparse.Namespace) -> int:
    s = Session(args)
    s.rpc(ChangeUserIdMsg(colonyname=s.colonyname, userid=args.userid), s.prvkey)
    info("Changed user Id", ColonyName=s.colonyname, UserId=args.userid)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    g = add_group(sub, "user", "Manage users", aliases=["users"])
    p = add_command(g, "add", "Add a user to the colony (colony owner)", _add)
    p.add_argument("--name", required=True, help="user name (unique in the colony)")
    p.add_argument("--userid", required=True, help="user id: the id of the user's private key")
    p.add_argument("--email", help="e-mail address")
    p.add_argument("--phone", help="phone number")
    add_colony_key(p)
    p = add_command(g, "ls", "List the users of the colony", _ls)
    add_json(p)
    p = add_command(g, "get", "Get info about a user", _get)
    p.add_argument("--name", required=True, help="user name")
    add_json(p)
    p = add_command(g, "remove", "Remove a user (colony owner)", _remove)
    p.add_argument("--name", required=True, help="user name")
    add_colony_key(p)
    p = add_command(g, "chid", "Change the calling user's id (sign with the old key)", _chid)
    p.add_argument("--userid", required=True, help="the new user id")
