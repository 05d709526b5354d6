"""Submit the helloworld function from Python and wait for its output (Python executor tutorial).

Run examples/python/helloworld_executor.py first. With pycolonies 1.0.25 the submit call is
`submit_func_spec` and processes are pydantic objects (`process.processid`, `process.output`).
"""
from pycolonies import Conditions, FuncSpec, colonies_client

colonies, colonyname, colony_prvkey, executorname, prvkey = colonies_client()

func_spec = FuncSpec(
    funcname="helloworld",
    conditions=Conditions(
        colonyname=colonyname,
        executortype="helloworld-executor",
    ),
    maxexectime=100,
    maxretries=3,
)

# submit the function spec to the colonies server
process = colonies.submit_func_spec(func_spec, prvkey)
print("Process", process.processid, "submitted")

# wait for the process to be executed
process = colonies.wait(process, 10, prvkey)
print(process.output[0])
