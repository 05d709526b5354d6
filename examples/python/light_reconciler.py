"""A blueprint reconciler for the `HomeLight` kind of examples/blueprints/, for pycolonies 1.0.25.

The server submits a `reconcile` process to executors of type `light-reconciler` whenever a
HomeLight blueprint is added, its spec changes or someone asks (`colonies blueprint reconcile`),
and every `reconcileInterval` seconds for all HomeLights; a `cleanup` process when one is
removed. This reconciler "drives" the lights by reporting each blueprint's spec back as its
status (with the time it was seen), which is where a real one would talk to the device.

    export COLONIES_SERVER_HOST=localhost COLONIES_SERVER_PORT=50080 COLONIES_SERVER_TLS=false
    export COLONIES_COLONY_NAME=dev COLONIES_COLONY_PRVKEY=... COLONIES_PRVKEY=...
    python3 examples/python/light_reconciler.py &
    colonies blueprint definition add --spec examples/blueprints/light-definition.json
    colonies blueprint add --spec examples/blueprints/light.json
    colonies blueprint set --name kitchen-light --key brightness --value 30
    colonies blueprint get --name kitchen-light        # Status: what the reconciler reported

Processes are taken with a raw `assignprocessmsg`: pycolonies' `Process` model only accepts
string kwargs and refuses the `"force": true` of a forced reconcile.
"""
import os
import signal
import sys
import time
import uuid

from pycolonies import ColoniesConnectionError, Crypto, colonies_client

EXECUTOR_TYPE = "light-reconciler"


class LightReconciler:
    def __init__(self):
        self.colonies, self.colonyname, self.colony_prvkey, _, _ = colonies_client()
        self.name = f"light-reconciler-{uuid.uuid4().hex[:8]}"
        crypto = Crypto()
        self.prvkey = crypto.prvkey()
        executor = {"executorname": self.name, "executorid": crypto.id(self.prvkey),
                    "colonyname": self.colonyname, "executortype": EXECUTOR_TYPE}
        self.colonies.add_executor(executor, self.colony_prvkey)
        self.colonies.approve_executor(self.colonyname, self.name, self.colony_prvkey)
        print("Reconciler", self.name, "registered", flush=True)

    def rpc(self, msg):
        return self.colonies._Colonies__rpc(msg, self.prvkey)

    def reconcile(self, name):
        light = self.colonies.get_blueprint(self.colonyname, name, self.prvkey)
        status = dict(light["spec"], lastSeen=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        self.colonies.update_blueprint_status(self.colonyname, name, status, self.prvkey)
        print("Reconciled", name, "generation", light["metadata"].get("generation", 0), flush=True)

    def handle(self, process):
        spec = process["spec"]
        kwargs = spec.get("kwargs") or {}
        if spec["funcname"] == "reconcile":
            names = [kwargs["blueprintName"]] if kwargs.get("blueprintName") else [
                b["metadata"]["name"] for b in self.colonies.get_blueprints(
                    self.colonyname, self.prvkey, kind=kwargs.get("kind")) or []]
            for name in names:
                self.reconcile(name)
        elif spec["funcname"] == "cleanup":
            print("Light", kwargs.get("blueprintName"), "removed: switching it off", flush=True)
        else:
            raise ValueError(f"Unknown function {spec['funcname']}")

    def start(self):
        while True:
            try:
                process = self.rpc({"msgtype": "assignprocessmsg", "colonyname": self.colonyname, "timeout": 10})
            except ColoniesConnectionError:
                continue  # nothing to do within 10 s (or the server is away): ask again
            try:
                self.handle(process)
                self.colonies.close(process["processid"], [], self.prvkey)
            except Exception as err:
                print(err, file=sys.stderr, flush=True)
                self.colonies.fail(process["processid"], [str(err)], self.prvkey)

    def unregister(self):
        self.colonies.remove_executor(self.colonyname, self.name, self.colony_prvkey)
        print("Reconciler", self.name, "unregistered", flush=True)
        os._exit(0)


if __name__ == "__main__":
    reconciler = LightReconciler()
    signal.signal(signal.SIGINT, lambda signum, frame: reconciler.unregister())
    signal.signal(signal.SIGTERM, lambda signum, frame: reconciler.unregister())
    reconciler.start()
