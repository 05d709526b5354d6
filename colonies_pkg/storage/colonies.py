"""SQL for the server id, colonies and users."""
from __future__ import annotations

from ..models.colony import Colony, User
from .db import DbRow, Tx, scalar


def get_server_id(tx: Tx) -> str:
    row = tx.one("SELECT serverid FROM server WHERE id = 1")
    return row[0] if row else ""


def set_server_id(tx: Tx, serverid: str) -> None:
    tx.run("INSERT INTO server(id, serverid) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET serverid = excluded.serverid",
           (serverid,))


def add_colony(tx: Tx, colony: Colony) -> None:
    tx.run("INSERT INTO colonies(name, colonyid) VALUES (?, ?)", (colony.name, colony.colonyid))


def get_colony(tx: Tx, name: str) -> Colony | None:
    row = tx.one("SELECT name, colonyid FROM colonies WHERE name = ?", (name,))
    return Colony(colonyid=row[1], name=row[0]) if row else None


def list_colonies(tx: Tx) -> list[Colony]:
    return [Colony(colonyid=r[1], name=r[0]) for r in tx.all("SELECT name, colonyid FROM colonies ORDER BY name")]


def remove_colony(tx: Tx, name: str) -> None:
    tx.run("DELETE FROM colonies WHERE name = ?", (name,))


def set_colony_id(tx: Tx, name: str, colonyid: str) -> None:
    tx.run("UPDATE colonies SET colonyid = ? WHERE name = ?", (colonyid, name))


def is_paused(tx: Tx, name: str) -> bool:
    row = tx.one("SELECT paused FROM colonies WHERE name = ?", (name,))
    return bool(row and row[0])


def set_paused(tx: Tx, name: str, paused: bool) -> None:
    tx.run("UPDATE colonies SET paused = ? WHERE name = ?", (int(paused), name))


def count_colonies(tx: Tx) -> int:
    return scalar(tx, "SELECT COUNT(*) FROM colonies")


_USER_COLS = "colonyname, userid, name, email, phone"


def _user(row: DbRow) -> User:
    colonyname, userid, name, email, phone = row
    return User(colonyname=colonyname, userid=userid, name=name, email=email, phone=phone)


def add_user(tx: Tx, user: User) -> None:
    tx.run(f"INSERT INTO users({_USER_COLS}) VALUES (?, ?, ?, ?, ?)",
           (user.colonyname, user.userid, user.name, user.email, user.phone))


def get_user(tx: Tx, colonyname: str, name: str) -> User | None:
    row = tx.one(f"SELECT {_USER_COLS} FROM users WHERE colonyname = ? AND name = ?", (colonyname, name))
    return _user(row) if row else None


def get_user_by_id(tx: Tx, colonyname: str, userid: str) -> User | None:
    row = tx.one(f"SELECT {_USER_COLS} FROM users WHERE colonyname = ? AND userid = ?", (colonyname, userid))
    return _user(row) if row else None


def list_users(tx: Tx, colonyname: str) -> list[User]:
    return [_user(r) for r in tx.all(f"SELECT {_USER_COLS} FROM users WHERE colonyname = ? ORDER BY name", (colonyname,))]


def remove_user(tx: Tx, colonyname: str, name: str) -> None:
    tx.run("DELETE FROM users WHERE colonyname = ? AND name = ?", (colonyname, name))


def set_user_id(tx: Tx, colonyname: str, name: str, userid: str) -> None:
    tx.run("UPDATE users SET userid = ? WHERE colonyname = ? AND name = ?", (userid, colonyname, name))
