"""The "helloworld" executor of the Python executor tutorial, for pycolonies 1.0.25.

It registers itself (with the colony owner's key), offers the function `helloworld`, and then
assigns processes in a loop: it logs a line and closes each helloworld process with the output
"helloworld". Ctrl-C (or SIGTERM) unregisters it.

    export COLONIES_SERVER_HOST=localhost COLONIES_SERVER_PORT=50080 COLONIES_SERVER_TLS=false
    export COLONIES_COLONY_NAME=dev COLONIES_COLONY_PRVKEY=... COLONIES_PRVKEY=...
    python3 examples/python/helloworld_executor.py [executor-name]
    colonies function submit --spec examples/functions/helloworld.json --follow

Differences from the tutorial text: pycolonies 1.0.25 returns pydantic `Process` objects
(`process.processid`, `process.spec.funcname`), `add_function` takes (colonyname,
executorname, funcname, prvkey), and the executor gets a unique name by default so that it can
be restarted (an unregistered name cannot be registered again) and run several times.
"""
import os
import signal
import sys
import uuid

from pycolonies import ColoniesConnectionError, Crypto, colonies_client

EXECUTOR_TYPE = "helloworld-executor"


class PythonExecutor:
    def __init__(self, name=None):
        colonies, colonyname, colony_prvkey, _, _ = colonies_client()
        self.colonies = colonies
        self.colonyname = colonyname
        self.colony_prvkey = colony_prvkey
        self.executorname = name or f"helloworld-executor-{uuid.uuid4().hex[:8]}"
        self.executortype = EXECUTOR_TYPE

        crypto = Crypto()
        self.executor_prvkey = crypto.prvkey()
        self.executorid = crypto.id(self.executor_prvkey)

        self.register()

    def register(self):
        executor = {
            "executorname": self.executorname,
            "executorid": self.executorid,
            "colonyname": self.colonyname,
            "executortype": self.executortype,
        }
        try:
            self.colonies.add_executor(executor, self.colony_prvkey)
            self.colonies.approve_executor(self.colonyname, self.executorname, self.colony_prvkey)
            self.colonies.add_function(self.colonyname, self.executorname, "helloworld", self.executor_prvkey)
        except Exception as err:
            print(err, file=sys.stderr)
            os._exit(1)
        print("Executor", self.executorname, "registered", flush=True)

    def start(self):
        while True:
            try:
                process = self.colonies.assign(self.colonyname, 10, self.executor_prvkey)
            except ColoniesConnectionError:
                continue  # nothing to do within 10 s (or the server is away): ask again
            print("Process", process.processid, "is assigned to executor", flush=True)
            try:
                if process.spec.funcname == "helloworld":
                    self.colonies.add_log(process.processid, "Hello from executor\n", self.executor_prvkey)
                    self.colonies.close(process.processid, ["helloworld"], self.executor_prvkey)
                else:
                    self.colonies.fail(process.processid, [f"Unknown function {process.spec.funcname}"],
                                       self.executor_prvkey)
            except Exception as err:
                print(err, file=sys.stderr)

    def unregister(self):
        self.colonies.remove_executor(self.colonyname, self.executorname, self.colony_prvkey)
        print("Executor", self.executorname, "unregistered", flush=True)
        os._exit(0)


if __name__ == "__main__":
    executor = PythonExecutor(sys.argv[1] if len(sys.argv) > 1 else None)
    signal.signal(signal.SIGINT, lambda signum, frame: executor.unregister())
    signal.signal(signal.SIGTERM, lambda signum, frame: executor.unregister())
    executor.start()
