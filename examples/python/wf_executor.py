"""The workflow tutorial's executor (type wf-executor), for pycolonies 1.0.25.

`gen` outputs five random numbers; `sum` outputs the sum of its input, which the server fills
with the output of its parents. Submit examples/workflows/sum_wf.json (or run submit_wf.py).
"""
import os
import random
import signal
import sys
import uuid

from pycolonies import ColoniesConnectionError, Crypto, colonies_client


class WorkflowExecutor:
    def __init__(self, name=None):
        self.colonies, self.colonyname, self.colony_prvkey, _, _ = colonies_client()
        self.executorname = name or f"wf-executor-{uuid.uuid4().hex[:8]}"
        crypto = Crypto()
        self.executor_prvkey = crypto.prvkey()
        executor = {
            "executorname": self.executorname,
            "executorid": crypto.id(self.executor_prvkey),
            "colonyname": self.colonyname,
            "executortype": "wf-executor",
        }
        self.colonies.add_executor(executor, self.colony_prvkey)
        self.colonies.approve_executor(self.colonyname, self.executorname, self.colony_prvkey)
        for funcname in ("gen", "sum"):
            self.colonies.add_function(self.colonyname, self.executorname, funcname, self.executor_prvkey)
        print("Executor", self.executorname, "registered", flush=True)

    def start(self):
        while True:
            try:
                process = self.colonies.assign(self.colonyname, 10, self.executor_prvkey)
            except ColoniesConnectionError:
                continue
            try:
                if process.spec.funcname == "gen":
                    rand_num = [random.randint(1, 100) for _ in range(5)]
                    self.colonies.close(process.processid, rand_num, self.executor_prvkey)
                elif process.spec.funcname == "sum":
                    total = sum(int(value) for value in process.input or [])
                    self.colonies.close(process.processid, [total], self.executor_prvkey)
                else:
                    self.colonies.fail(process.processid, ["Unknown function"], self.executor_prvkey)
            except Exception as err:
                print(err, file=sys.stderr)

    def unregister(self):
        self.colonies.remove_executor(self.colonyname, self.executorname, self.colony_prvkey)
        print("Executor", self.executorname, "unregistered", flush=True)
        os._exit(0)


if __name__ == "__main__":
    executor = WorkflowExecutor(sys.argv[1] if len(sys.argv) > 1 else None)
    signal.signal(signal.SIGINT, lambda signum, frame: executor.unregister())
    signal.signal(signal.SIGTERM, lambda signum, frame: executor.unregister())
    executor.start()
