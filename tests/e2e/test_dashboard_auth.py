"""Dashboard authentication and authorization over HTTP against a real `dev` server: one-time
login links, CLI-signed tickets, sessions that see only what their key may see, actions checked
like the RPC, CSRF, security headers, and no key in any page."""
from __future__ import annotations

import re
import subprocess
import sys
import time
from urllib.parse import urlencode

import pytest
import requests

from colonies_pkg.server.ui.auth import make_ticket

from .conftest import (
    DEV_COLONY_NAME,
    DEV_COLONY_PRV,
    DEV_USER_PRV,
    REPO_ROOT,
    SERVER_PRV,
    ServerProcess,
    new_key,
    sign_envelope,
    uniq,
)

PAGES = ["", "processes", "workflows", "executors", "functions", "crons", "logs?q=x", "files"]


def dashboard_url(server: ServerProcess) -> str:
    text = (server.log_dir / f"server{server.starts}.stdout.log").read_text()
    found = re.search(r"^Dashboard: (http://\S+)$", text, re.M)
    assert found, text
    return found.group(1)


def rpc(server: ServerProcess, msg: dict, prv: str) -> requests.Response:
    return requests.post(server.api_url, json=sign_envelope(msg, prv), timeout=10)


def ticket_login(server: ServerProcess, keys: list[str], colony: str = DEV_COLONY_NAME, **kw) -> requests.Session:
    ticket, sigs = make_ticket(colony, keys, **kw)
    s = requests.Session()
    r = s.get(f"{server.base_url}/ui/login?" + urlencode({"ticket": ticket, "sig": sigs}), timeout=10)
    assert r.status_code == 200, r.text
    return s


def ticket_login_status(server: ServerProcess, keys: list[str], colony: str = DEV_COLONY_NAME) -> int:
    ticket, sigs = make_ticket(colony, keys)
    return requests.get(f"{server.base_url}/ui/login?" + urlencode({"ticket": ticket, "sig": sigs}),
                        timeout=10).status_code


def add_pending_executor(server: ServerProcess) -> str:
    _, eid = new_key()
    name = uniq("pending")
    r = rpc(server, {"msgtype": "addexecutormsg", "executor": {
        "executorname": name, "executorid": eid, "colonyname": DEV_COLONY_NAME, "executortype": "cli"}},
        DEV_COLONY_PRV)
    assert r.status_code == 200, r.text
    return name


def executor_state(s: requests.Session, server: ServerProcess, name: str) -> str:
    html = s.get(f"{server.base_url}/ui/c/dev/executors", timeout=10).text
    row = next(r for r in html.split("<tr>") if f"<td>{name}</td>" in r)
    return re.search(r'class="badge s-(\w+)"', row).group(1)


def csrf_of(s: requests.Session, server: ServerProcess) -> str:
    html = s.get(f"{server.base_url}/ui/c/dev/executors", timeout=10).text
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_pages_need_a_session(server: ServerProcess) -> None:
    for path in ["/ui/", "/ui/server", *(f"/ui/c/dev/{p}" for p in PAGES)]:
        r = requests.get(server.base_url + path, timeout=10)
        assert r.status_code == 401, path
        assert "colonies ui" in r.text
    assert requests.get(server.base_url + "/ui/events?colony=dev", timeout=10).status_code == 401
    r = requests.post(f"{server.base_url}/ui/c/dev/executors/dev-docker/reject", data={"csrf": "x"}, timeout=10)
    assert r.status_code == 401


def test_dev_login_link_works_once_and_sets_a_strict_httponly_cookie(server: ServerProcess) -> None:
    url = dashboard_url(server)
    s = requests.Session()
    r = s.get(url, timeout=10, allow_redirects=False)
    assert r.status_code == 200
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
    assert s.get(f"{server.base_url}/ui/c/dev/", timeout=10).status_code == 200
    again = requests.get(url, timeout=10)
    assert again.status_code == 403 and "already used" in again.text


def test_tickets_are_checked(server: ServerProcess) -> None:
    good = ticket_login(server, [DEV_USER_PRV])
    assert good.get(f"{server.base_url}/ui/c/dev/", timeout=10).status_code == 200
    ticket, sigs = make_ticket(DEV_COLONY_NAME, [DEV_USER_PRV])
    url = f"{server.base_url}/ui/login?" + urlencode({"ticket": ticket, "sig": sigs})
    assert requests.get(url, timeout=10).status_code == 200
    assert requests.get(url, timeout=10).status_code == 403  # replayed nonce
    old, old_sigs = make_ticket(DEV_COLONY_NAME, [DEV_USER_PRV], clock=lambda: time.time() - 3600)
    r = requests.get(f"{server.base_url}/ui/login?" + urlencode({"ticket": old, "sig": old_sigs}), timeout=10)
    assert r.status_code == 403 and "expired" in r.text
    far, far_sigs = make_ticket(DEV_COLONY_NAME, [DEV_USER_PRV], lifetime=86400)
    assert requests.get(f"{server.base_url}/ui/login?" + urlencode({"ticket": far, "sig": far_sigs}),
                        timeout=10).status_code == 403
    other, _ = make_ticket(DEV_COLONY_NAME, [DEV_USER_PRV])
    _, wrong_sig = make_ticket(DEV_COLONY_NAME, [DEV_USER_PRV])
    r = requests.get(f"{server.base_url}/ui/login?" + urlencode({"ticket": other, "sig": "00" * 65}), timeout=10)
    assert r.status_code == 403
    # a signature of another ticket recovers some other id: nobody this server knows, no session
    s = requests.Session()
    r = s.get(f"{server.base_url}/ui/login?" + urlencode({"ticket": other, "sig": wrong_sig}), timeout=10)
    assert r.status_code == 403 and "not a member" in r.text and "set-cookie" not in r.headers
    assert s.get(f"{server.base_url}/ui/c/dev/", timeout=10).status_code == 401
    stranger, _ = new_key()
    assert ticket_login_status(server, [stranger]) == 403                  # a fresh key: not a member
    assert ticket_login_status(server, [DEV_USER_PRV], colony="") == 403   # no colony: server owners only
    assert ticket_login_status(server, [SERVER_PRV], colony="") == 200
    assert requests.get(f"{server.base_url}/ui/login?ticket=bm90LWpzb24", timeout=10).status_code == 400


def test_a_member_sees_its_colony_only_and_cannot_act_as_owner(server: ServerProcess) -> None:
    member = ticket_login(server, [DEV_USER_PRV])
    for p in PAGES:
        assert member.get(f"{server.base_url}/ui/c/dev/{p}", timeout=10).status_code == 200, p
    _, other_id = new_key()
    other = uniq("other")
    assert rpc(server, {"msgtype": "addcolonymsg", "colony": {"colonyid": other_id, "name": other}},
               SERVER_PRV).status_code == 200
    for p in PAGES:
        r = member.get(f"{server.base_url}/ui/c/{other}/{p}", timeout=10)
        assert r.status_code == 403 and "not a member" in r.text, p
    server_page = member.get(f"{server.base_url}/ui/server", timeout=10).text
    assert "All colonies" not in server_page and other not in server_page  # server-owner only
    name = add_pending_executor(server)
    page = member.get(f"{server.base_url}/ui/c/dev/executors", timeout=10).text
    assert "/approve" not in page and "needs the colony owner key" in page
    r = member.post(f"{server.base_url}/ui/c/dev/executors/{name}/approve",
                    data={"csrf": csrf_of(member, server)}, timeout=10)
    assert r.status_code == 403 and "not colony owner" in r.text
    assert executor_state(member, server, name) == "pending"


def test_owner_actions_need_the_csrf_token_and_same_origin(server: ServerProcess) -> None:
    owner = ticket_login(server, [DEV_USER_PRV, DEV_COLONY_PRV])
    name = add_pending_executor(server)
    url = f"{server.base_url}/ui/c/dev/executors/{name}/approve"
    assert owner.post(url, data={}, timeout=10).status_code == 403
    assert owner.post(url, data={"csrf": "forged"}, timeout=10).status_code == 403
    token = csrf_of(owner, server)
    r = owner.post(url, data={"csrf": token}, headers={"Origin": "http://evil.example"}, timeout=10)
    assert r.status_code == 403
    assert executor_state(owner, server, name) == "pending"
    r = owner.post(url, data={"csrf": token}, headers={"Origin": server.base_url}, timeout=10, allow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui/c/dev/executors"
    assert executor_state(owner, server, name) == "approved"
    r = owner.post(f"{server.base_url}/ui/c/dev/executors/{name}/explode", data={"csrf": token}, timeout=10)
    assert r.status_code == 400


def test_headers_and_no_secrets_in_pages(server: ServerProcess) -> None:
    s = ticket_login(server, [DEV_USER_PRV, DEV_COLONY_PRV, SERVER_PRV])
    for path in ["/ui/server", *(f"/ui/c/dev/{p}" for p in PAGES)]:
        r = s.get(server.base_url + path, timeout=10)
        assert r.status_code == 200, path
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["x-frame-options"] == "DENY"
        for key in (DEV_USER_PRV, DEV_COLONY_PRV, SERVER_PRV):
            assert key not in r.text, path
        assert "<script>" not in r.text  # no inline script: the CSP forbids it anyway
    server_page = s.get(server.base_url + "/ui/server", timeout=10).text
    assert "All colonies" in server_page and 'id="colony-counts"' in server_page  # the server owner's view
    assert s.get(server.base_url + "/ui/static/ui.js", timeout=10).headers["content-type"].startswith("text/javascript")
    assert s.get(server.base_url + "/ui/static/..%2Fauth.py", timeout=10).status_code == 404


def test_logout_ends_the_session(server: ServerProcess) -> None:
    s = ticket_login(server, [DEV_USER_PRV])
    token = csrf_of(s, server)
    assert s.post(f"{server.base_url}/ui/logout", data={"csrf": token}, timeout=10).status_code == 200
    assert s.get(f"{server.base_url}/ui/c/dev/", timeout=10).status_code == 401


def test_colonies_ui_prints_a_login_url_for_the_callers_keys(server: ServerProcess) -> None:
    env = {"COLONIES_SERVER_HOST": "127.0.0.1", "COLONIES_SERVER_PORT": str(server.port),
           "COLONIES_COLONY_NAME": DEV_COLONY_NAME, "COLONIES_PRVKEY": DEV_USER_PRV, "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "colonies.py", "ui"], cwd=REPO_ROOT, env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    url = re.search(r"^Dashboard: (http://127\.0\.0\.1:\d+/ui/login\?\S+)$", out.stdout, re.M).group(1)
    assert DEV_USER_PRV not in url
    s = requests.Session()
    assert s.get(url, timeout=10).status_code == 200
    assert "Colony dev" in s.get(f"{server.base_url}/ui/c/dev/", timeout=10).text


def test_dashboard_can_be_turned_off(tmp_path_factory: pytest.TempPathFactory) -> None:
    base = tmp_path_factory.mktemp("noui")
    srv = ServerProcess(data_dir=base / "data", log_dir=base / "logs", env={"COLONIES_DASHBOARD": "false"})
    srv.start()
    try:
        assert requests.get(srv.base_url + "/ui/", timeout=5).status_code == 404
        assert "Dashboard:" not in (srv.log_dir / "server1.stdout.log").read_text()
    finally:
        srv.stop()
