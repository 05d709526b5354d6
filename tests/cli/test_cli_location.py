"""`colonies location add|ls|get|remove` against a real `colonies dev` server."""
from __future__ import annotations

import re

from .conftest import USER_PRV, Cli, uniq


def test_location_commands(cli: Cli) -> None:
    name = uniq("site")
    listed = cli.json("location", "ls")
    assert all(loc["name"] != name for loc in listed)
    added = cli.ok("location", "add", "--name", name, "--desc", "Empire State", "--long", "-73.9857",
                   "--lat", "40.7484")
    assert "Location added" in added.err and f"Name={name}" in added.err
    locationid = re.search(r"LocationID=([0-9a-f]{64})", added.err).group(1)
    table = cli.ok("location", "ls").out
    row = next(line for line in table.splitlines() if name in line)
    assert "Empire State" in row and "-73.9857" in row and "40.7484" in row
    assert "NAME" in table and "DESCRIPTION" in table
    [loc] = [x for x in cli.json("location", "ls") if x["name"] == name]
    assert loc == {"locationid": locationid, "name": name, "colonyname": "dev", "description": "Empire State",
                   "long": -73.9857, "lat": 40.7484}
    detail = cli.ok("location", "get", "--name", name).out
    assert "LocationID" in detail and locationid in detail and "-73.985700" in detail and "40.748400" in detail
    assert cli.json("location", "get", "--name", name) == loc

    duplicate = cli("location", "add", "--name", name)
    assert duplicate.rc == 1 and "already exists" in duplicate.err
    not_owner = cli("location", "add", "--name", uniq("x"), "--colonyprvkey", USER_PRV)
    assert not_owner.rc == 1 and "not colony owner" in not_owner.err
    bad = cli("location", "add", "--name", uniq("x"), "--lat", "91")
    assert bad.rc == 1 and "latitude" in bad.err

    unconfirmed = cli("location", "remove", "--name", name)
    assert unconfirmed.rc == 1 and "--yes" in unconfirmed.err
    assert cli.json("location", "get", "--name", name)["name"] == name  # still there
    assert "Location removed" in cli.ok("location", "remove", "--name", name, "--yes").err
    missing = cli("location", "get", "--name", name)
    assert missing.rc == 1 and "not found" in missing.err


def test_location_in_completion(cli: Cli) -> None:
    script = cli.ok("completion", "bash").out
    assert "location" in script and "--lat" in script
