"""SQL for blueprint definitions, blueprints and blueprint history (migration 0006).

Rows hold the whole JSON document; these functions map rows to and from the model Structs.
"""
from __future__ import annotations

import msgspec

from ..models.blueprint import Blueprint, BlueprintDefinition, BlueprintHistory
from .db import SqlValue, Tx, scalar

_def_decoder = msgspec.json.Decoder(BlueprintDefinition)
_bp_decoder = msgspec.json.Decoder(Blueprint)
_hist_decoder = msgspec.json.Decoder(BlueprintHistory)
_enc = msgspec.json.Encoder()


# --- definitions ------------------------------------------------------------------------------
def add_definition(tx: Tx, d: BlueprintDefinition) -> None:
    tx.run("INSERT INTO blueprintdefinitions(blueprintdefinitionid, colonyname, name, kind, data) "
           "VALUES (?, ?, ?, ?, ?)",
           (d.blueprintdefinitionid, d.metadata.colonyname, d.metadata.name, d.spec.names.kind,
            _enc.encode(d).decode()))


def definition_exists(tx: Tx, colonyname: str, name: str, definitionid: str) -> str:
    """Which key of a new definition is taken: "name", "id" or ""."""
    if tx.one("SELECT 1 FROM blueprintdefinitions WHERE colonyname = ? AND name = ?", (colonyname, name)):
        return "name"
    if tx.one("SELECT 1 FROM blueprintdefinitions WHERE blueprintdefinitionid = ?", (definitionid,)):
        return "id"
    return ""


def get_definition(tx: Tx, colonyname: str, name: str) -> BlueprintDefinition | None:
    row = tx.one("SELECT data FROM blueprintdefinitions WHERE colonyname = ? AND name = ?", (colonyname, name))
    return _def_decoder.decode(row[0]) if row else None


def list_definitions(tx: Tx, colonyname: str) -> list[BlueprintDefinition]:
    rows = tx.all("SELECT data FROM blueprintdefinitions WHERE colonyname = ? ORDER BY name", (colonyname,))
    return [_def_decoder.decode(r[0]) for r in rows]


def definition_for_kind(tx: Tx, colonyname: str, kind: str) -> BlueprintDefinition | None:
    """The colony's first definition (by name) whose spec.names.kind is `kind`."""
    row = tx.one("SELECT data FROM blueprintdefinitions WHERE colonyname = ? AND kind = ? ORDER BY name LIMIT 1",
                 (colonyname, kind))
    return _def_decoder.decode(row[0]) if row else None


def remove_definition(tx: Tx, colonyname: str, name: str) -> None:
    tx.run("DELETE FROM blueprintdefinitions WHERE colonyname = ? AND name = ?", (colonyname, name))


# --- blueprints -------------------------------------------------------------------------------
def add_blueprint(tx: Tx, b: Blueprint) -> None:
    md = b.metadata
    tx.run("INSERT INTO blueprints(blueprintid, colonyname, name, kind, locationname, data) VALUES (?, ?, ?, ?, ?, ?)",
           (b.blueprintid, md.colonyname, md.name, b.kind, md.location, _enc.encode(b).decode()))


def blueprint_id_taken(tx: Tx, blueprintid: str) -> bool:
    return tx.one("SELECT 1 FROM blueprints WHERE blueprintid = ?", (blueprintid,)) is not None


def replace_blueprint(tx: Tx, b: Blueprint) -> None:
    """Overwrite the stored document of blueprint `b.blueprintid` (its keys may change too)."""
    md = b.metadata
    tx.run("UPDATE blueprints SET colonyname = ?, name = ?, kind = ?, locationname = ?, data = ? WHERE blueprintid = ?",
           (md.colonyname, md.name, b.kind, md.location, _enc.encode(b).decode(), b.blueprintid))


def get_blueprint(tx: Tx, colonyname: str, name: str) -> Blueprint | None:
    row = tx.one("SELECT data FROM blueprints WHERE colonyname = ? AND name = ?", (colonyname, name))
    return _bp_decoder.decode(row[0]) if row else None


def get_blueprint_by_id(tx: Tx, blueprintid: str) -> Blueprint | None:
    row = tx.one("SELECT data FROM blueprints WHERE blueprintid = ?", (blueprintid,))
    return _bp_decoder.decode(row[0]) if row else None


def list_blueprints(tx: Tx, colonyname: str, kind: str = "", locationname: str | None = None) -> list[Blueprint]:
    """By name; `kind` "" = every kind. `locationname` None = any location, else equal ignoring case."""
    sql, params = "SELECT data FROM blueprints WHERE colonyname = ?", [colonyname]
    if kind:
        sql += " AND kind = ?"
        params.append(kind)
    if locationname is not None:
        sql += " AND lower(locationname) = lower(?)"
        params.append(locationname)
    return [_bp_decoder.decode(r[0]) for r in tx.all(sql + " ORDER BY name", params)]


def count_of_kind(tx: Tx, colonyname: str, kind: str, locationname: str | None = None) -> int:
    """How many blueprints of `kind` the colony has (at exactly `locationname` when given)."""
    sql, params = "SELECT COUNT(*) FROM blueprints WHERE colonyname = ? AND kind = ?", [colonyname, kind]
    if locationname is not None:
        sql += " AND locationname = ?"
        params.append(locationname)
    return scalar(tx, sql, params)


def remove_blueprint(tx: Tx, blueprintid: str) -> None:
    tx.run("DELETE FROM blueprints WHERE blueprintid = ?", (blueprintid,))


# --- history ----------------------------------------------------------------------------------
def add_history(tx: Tx, colonyname: str, h: BlueprintHistory) -> None:
    tx.run("INSERT INTO blueprinthistory(historyid, blueprintid, colonyname, data) VALUES (?, ?, ?, ?)",
           (h.historyid, h.blueprintid, colonyname, _enc.encode(h).decode()))


def history(tx: Tx, blueprintid: str, limit: int) -> list[BlueprintHistory]:
    """Newest first; `limit` <= 0 = all."""
    params: list[SqlValue]
    sql, params = "SELECT data FROM blueprinthistory WHERE blueprintid = ? ORDER BY id DESC", [blueprintid]
    if limit > 0:
        sql += " LIMIT ?"
        params.append(limit)
    return [_hist_decoder.decode(r[0]) for r in tx.all(sql, params)]


# --- the reconcile crons (rows of the crons table, added through storage.crons) ---------------
def cron_exists(tx: Tx, colonyname: str, name: str) -> bool:
    return tx.one("SELECT 1 FROM crons WHERE colonyname = ? AND name = ?", (colonyname, name)) is not None


def remove_cron_named(tx: Tx, colonyname: str, name: str) -> bool:
    return tx.run("DELETE FROM crons WHERE colonyname = ? AND name = ?", (colonyname, name)) > 0
