"""The dashboard in a real browser: Playwright driving Debian's chromium against `colonies dev`
(with its sample executor). One browser and one logged-in page for the module; a screenshot of
every page goes to a temp dir (printed at the end, never committed)."""
from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from model import Conditions, FuncSpec, Workflow
from pycolonies import Colonies

from .conftest import (
    DEV_COLONY_NAME,
    DEV_COLONY_PRV,
    DEV_USER_PRV,
    SERVER_PRV,
    ServerProcess,
    new_key,
    poll_until,
    uniq,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
UI_TIMEOUT_MS = 15_000

playwright_api = pytest.importorskip("playwright.sync_api")
if shutil.which(CHROMIUM) is None:  # CI installs it (.ci/run); elsewhere say why we skip
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)
expect = playwright_api.expect


def dashboard_url(server: ServerProcess) -> str:
    text = (server.log_dir / f"server{server.starts}.stdout.log").read_text()
    found = re.search(r"^Dashboard: (http://\S+)$", text, re.M)
    assert found, f"no 'Dashboard: http://...' line in the dev output:\n{text}"
    return found.group(1)


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("dashboard-screenshots")
    yield path
    print(f"\ndashboard screenshots: {path}")


@pytest.fixture(scope="module")
def page(dev_server: ServerProcess) -> Iterator[Any]:
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.set_default_timeout(UI_TIMEOUT_MS)
            tab = context.new_page()
            tab.goto(dashboard_url(dev_server))
            tab.wait_for_url(re.compile(r"/ui/c/dev/$"))
            yield tab
        finally:
            browser.close()


@pytest.fixture(scope="module")
def dev(dev_server: ServerProcess) -> Colonies:
    return Colonies("127.0.0.1", dev_server.port)


def _spec(funcname: str, args: list[Any], executortype: str = "cli", **kw: Any) -> FuncSpec:
    return FuncSpec(funcname=funcname, args=args, maxexectime=30, maxretries=0, maxwaittime=-1,
                    conditions=Conditions(colonyname=DEV_COLONY_NAME, executortype=executortype,
                                          dependencies=kw.pop("dependencies", [])), **kw)


def _live(page: Any) -> None:
    expect(page.locator("#live-status")).to_have_text("live")


def test_login_shows_the_live_colony_and_counts_change(page: Any, dev: Colonies, dev_server: ServerProcess,
                                                       shots: Path) -> None:
    page.goto(f"{dev_server.base_url}/ui/c/dev/")
    expect(page.locator("h1")).to_have_text("Colony dev")
    _live(page)
    tile = page.locator("[data-count=successful]")
    before = int(tile.inner_text())
    process = dev.submit_func_spec(_spec("echo", ["from-the-browser-test"]), DEV_USER_PRV)
    expect(tile).to_have_text(str(before + 1))      # pushed over SSE, no reload
    expect(page.locator("#latest")).to_contain_text("echo")
    page.screenshot(path=str(shots / "overview.png"), full_page=True)
    assert dev.get_process(process.processid, DEV_USER_PRV).state == 2


def test_process_page_streams_its_logs(page: Any, dev: Colonies, dev_server: ServerProcess, shots: Path) -> None:
    prv, eid = new_key()
    name, etype = uniq("logger"), uniq("logtype")
    dev.add_executor({"executorname": name, "executorid": eid, "colonyname": DEV_COLONY_NAME, "executortype": etype},
                     DEV_COLONY_PRV)
    dev.approve_executor(DEV_COLONY_NAME, name, DEV_COLONY_PRV)
    submitted = dev.submit_func_spec(_spec("talk", [], executortype=etype), DEV_USER_PRV)
    process = dev.assign(DEV_COLONY_NAME, 5, prv)
    assert process.processid == submitted.processid
    page.goto(f"{dev_server.base_url}/ui/c/dev/processes/{process.processid}")
    _live(page)
    logs = page.locator("#logs")
    dev.add_log(process.processid, "first line\n", prv)
    expect(logs).to_contain_text("first line")
    dev.add_log(process.processid, "second line\n", prv)
    expect(logs).to_contain_text("second line")
    dev.close(process.processid, ["done"], prv)
    expect(page.locator("h1 .badge")).to_have_text("successful")
    page.screenshot(path=str(shots / "process.png"), full_page=True)


def test_workflow_graph(page: Any, dev: Colonies, dev_server: ServerProcess, shots: Path) -> None:
    wf = Workflow(colonyname=DEV_COLONY_NAME, functionspecs=[
        _spec("echo", ["a"], nodename="first"),
        _spec("echo", ["b"], nodename="second", dependencies=["first"]),
        _spec("echo", ["c"], nodename="third", dependencies=["first"]),
    ])
    graph = dev.submit_workflow(wf, DEV_USER_PRV)
    page.goto(f"{dev_server.base_url}/ui/c/dev/workflows/{graph.processgraphid}")
    nodes = page.locator("svg.dag a.node")
    expect(nodes).to_have_count(3)
    for label in ("first", "second", "third"):
        expect(page.locator("svg.dag")).to_contain_text(label)
    expect(page.locator("svg.dag .node[data-state=successful]")).to_have_count(3)
    assert page.locator("svg.dag path.edge").count() == 2
    page.screenshot(path=str(shots / "workflow.png"), full_page=True)
    nodes.first.click()
    page.wait_for_url(re.compile(r"/ui/c/dev/processes/[0-9a-f]{64}$"))


def test_colony_owner_approves_an_executor(page: Any, dev: Colonies, dev_server: ServerProcess, shots: Path) -> None:
    _, eid = new_key()
    name = uniq("pending")
    dev.add_executor({"executorname": name, "executorid": eid, "colonyname": DEV_COLONY_NAME,
                      "executortype": "cli"}, DEV_COLONY_PRV)
    page.goto(f"{dev_server.base_url}/ui/c/dev/executors")
    row = page.locator("#executors tr", has_text=name)
    expect(row.locator(".badge")).to_have_text("pending")
    page.screenshot(path=str(shots / "executors-before.png"), full_page=True)
    with page.expect_navigation():
        row.get_by_role("button", name="Approve").click()
    assert page.url.endswith("/ui/c/dev/executors"), (page.url, page.content()[:2000])
    expect(page.locator("#executors tr", has_text=name).locator(".badge")).to_have_text("approved")
    assert dev.get_executor(DEV_COLONY_NAME, name, DEV_USER_PRV)["state"] == 1
    page.screenshot(path=str(shots / "executors.png"), full_page=True)


def test_another_colonys_page_is_refused(page: Any, dev: Colonies, dev_server: ServerProcess, shots: Path) -> None:
    _other_prv, other_id = new_key()
    other = uniq("other")
    dev.add_colony({"colonyid": other_id, "name": other}, SERVER_PRV)
    for path in ("", "processes", "executors"):
        response = page.goto(f"{dev_server.base_url}/ui/c/{other}/{path}")
        assert response is not None and response.status == 403
        expect(page.locator("h1")).to_have_text("Not allowed")
        expect(page.locator("main")).to_contain_text("not a member")
    page.screenshot(path=str(shots / "refused.png"), full_page=True)


@pytest.mark.parametrize("path", ["processes?state=2", "workflows?state=2", "functions", "crons", "logs?q=line",
                                  "files", "../../server"])
def test_every_page_renders(page: Any, dev_server: ServerProcess, shots: Path, path: str) -> None:
    response = page.goto(f"{dev_server.base_url}/ui/c/dev/{path}")
    assert response is not None and response.status == 200, path
    expect(page.locator("main h1").first).to_be_visible()
    name = re.sub(r"\W+", "-", path).strip("-") or "page"
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    assert poll_until(lambda: page.evaluate("document.readyState") == "complete", 5)


def test_without_server_sent_events_the_page_polls(page: Any, dev: Colonies, dev_server: ServerProcess) -> None:
    """A proxy that refuses event streams (here: a 503) leaves the page polling every 5 s."""
    tab = page.context.new_page()
    try:
        tab.route("**/ui/events*", lambda route: route.fulfill(status=503, body="no streams here"))
        tab.goto(f"{dev_server.base_url}/ui/c/dev/")
        expect(tab.locator("#live-status")).to_have_text(re.compile("polling"))
        tile = tab.locator("[data-count=successful]")
        before = int(tile.inner_text())
        dev.submit_func_spec(_spec("echo", ["polled"]), DEV_USER_PRV)
        expect(tile).to_have_text(str(before + 1), timeout=UI_TIMEOUT_MS)
    finally:
        tab.close()
