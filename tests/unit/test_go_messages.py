"""Every message type the Go server defines and handles is registered and handled here.

GO_MESSAGES is the set of `*PayloadType` constants of `pkg/rpc` in colonyos/colonies at commit
d89bd3868a2933ff6da6f4b50aaf937796eadb72 (2026-02-12), read with
`git grep 'PayloadType = "' -- pkg/rpc`. GO_NOT_HANDLED are the ones that commit's server never
dispatches: `pkg/server` registers no handler for them (`handlerRegistry.Register…`), `server.go`
answers only `versionmsg`/`getserverinfomsg` itself, and `backends/gin/realtime.go` only the three
subscriptions. Everything else Go handles, so it must have a handler here: POST /api messages in
`server.dispatch.HANDLERS`, WebSocket ones in `server.pubsub.HANDLERS`.
"""
from __future__ import annotations

import pytest

from colonies_pkg.rpc import messages
from colonies_pkg.server import dispatch, pubsub

GO_MESSAGES = [
    "addattributemsg", "addblueprintdefinitionmsg", "addblueprintmsg", "addchildmsg", "addcolonymsg",
    "addcronmsg", "addexecutorlogmsg", "addexecutormsg", "addfilemsg", "addfunctionmsg", "addgeneratormsg",
    "addlocationmsg", "addlogmsg", "addusermsg", "approveexecutormsg", "assignprocessmsg",
    "cancelprocessgraphmsg", "cancelprocessmsg", "changecolonyidmsg", "changeexecutoridmsg",
    "changeserveridmsg", "changeuseridmsg", "channelappendmsg", "channelreadmsg", "closefailedmsg",
    "closesuccessfulmsg", "createsnapshotmsg", "error", "getattributemsg", "getblueprintdefinitionmsg",
    "getblueprintdefinitionsmsg", "getblueprinthistorymsg", "getblueprintmsg", "getblueprintsmsg",
    "getclustermsg", "getcoloniesmsg", "getcolonymsg", "getcolonystatsmsg", "getcronmsg", "getcronsmsg",
    "getexecutorbyidmsg", "getexecutormsg", "getexecutorsmsg", "getfilelabelsmsg", "getfilemsg",
    "getfilesmsg", "getfunctionsmsg", "getgeneratormsg", "getgeneratorsmsg", "getlocationmsg",
    "getlocationsmsg", "getlogsmsg", "getnodemsg", "getnodesbylocationmsg", "getnodesmsg",
    "getpausestatusmsg", "getprocessesmsg", "getprocessgraphmsg", "getprocessgraphsmsg",
    "getprocesshistmsg", "getprocessmsg", "getserverinfomsg", "getsnapshotmsg", "getsnapshotsmsg",
    "getstatisticsmsg", "getuserbyidmsg", "getusermsg", "getusersmsg", "packgeneratormsg",
    "pauseassignmentsmsg", "pausestatusreplymsg", "reconcileblueprintmsg", "rejectexecutormsg",
    "removeallprocessesmsg", "removeallprocessgraphsmsg", "removeallsnapshotmsg",
    "removeblueprintdefinitionmsg", "removeblueprintmsg", "removecolonymsg", "removecronmsg",
    "removeexecutormsg", "removefilemsg", "removefunctionmsg", "removegeneratormsg", "removelocationmsg",
    "removeprocessgraphmsg", "removeprocessmsg", "removesnapshotmsg", "removeusermsg",
    "reportallocationmsg", "resolvegeneratormsg", "resumeassignmentsmsg", "runcronmsg", "searchlogsmsg",
    "setoutputmsg", "submitfuncspecmsg", "submitworkflowspecmsg", "subscribechannelmsg",
    "subscribeprocessesmsg", "subscribeprocessmsg", "updateblueprintmsg", "updateblueprintstatusmsg",
    "updateexecutormsg", "versionmsg",
]

GO_NOT_HANDLED = {
    "error",  # the payloadtype of error replies
    "pausestatusreplymsg",  # the payloadtype of the getpausestatusmsg reply
    "getnodemsg", "getnodesmsg", "getnodesbylocationmsg",  # defined, but no handler and no client call
}

HANDLED = sorted(set(GO_MESSAGES) - GO_NOT_HANDLED)


def _handled_here() -> dict[str, str]:
    """payloadtype → where its handler is registered."""
    found = {cls.__name__.lower(): "dispatch" for cls in dispatch.HANDLERS}
    found.update({cls.__name__.lower(): "pubsub" for cls in pubsub.HANDLERS})
    return found


def test_the_go_list_is_what_was_read() -> None:
    assert len(GO_MESSAGES) == 104 and len(set(GO_MESSAGES)) == 104
    assert sorted(GO_MESSAGES) == GO_MESSAGES
    assert len(HANDLED) == 99
    assert sum(1 for name in HANDLED if "blueprint" in name) == 12


@pytest.mark.parametrize("name", HANDLED)
def test_go_message_is_registered_and_handled(name: str) -> None:
    assert name in messages.MESSAGES, f"{name} is not in rpc.messages.MESSAGES"
    where = _handled_here().get(name)
    assert where is not None, f"{name} is registered but has no handler"
    assert (where == "pubsub") == (name in messages.WEBSOCKET_ONLY), f"{name} handled on the wrong endpoint"


def test_every_registered_message_has_a_handler() -> None:
    """No message decodes without something to handle it (no registration-only entries)."""
    handled = _handled_here()
    assert sorted(set(messages.MESSAGES) - set(handled)) == []
    assert set(messages.WEBSOCKET_ONLY) == {n for n, where in handled.items() if where == "pubsub"}


def test_messages_go_does_not_handle_are_unknown_here() -> None:
    """Go answers these with an error; so do we (rpc.envelope: unknown payloadtype → 403)."""
    for name in GO_NOT_HANDLED:
        assert name not in messages.MESSAGES


def test_we_handle_nothing_go_does_not_define() -> None:
    assert sorted(set(messages.MESSAGES) - set(GO_MESSAGES)) == []
