"""Submit a two-node helloworld workflow from Python (Python executor tutorial, "Workflows").

hello2 depends on hello1, so it runs only after hello1 has finished. Run
examples/python/helloworld_executor.py first.
"""
from pycolonies import Conditions, FuncSpec, Workflow, colonies_client

colonies, colonyname, colony_prvkey, executorname, prvkey = colonies_client()

hello1_func_spec = FuncSpec(
    funcname="helloworld",
    nodename="hello1",
    conditions=Conditions(
        colonyname=colonyname,
        executortype="helloworld-executor",
    ),
    maxexectime=100,
    maxretries=3,
)

hello2_func_spec = FuncSpec(
    funcname="helloworld",
    nodename="hello2",
    conditions=Conditions(
        colonyname=colonyname,
        executortype="helloworld-executor",
        dependencies=["hello1"],
    ),
    maxexectime=100,
    maxretries=3,
)

wf = Workflow(colonyname=colonyname)
wf.functionspecs.append(hello1_func_spec)
wf.functionspecs.append(hello2_func_spec)

processgraph = colonies.submit_workflow(wf, prvkey)
print("Workflow", processgraph.processgraphid, "submitted")

process = colonies.find_process("hello2", processgraph.processids, prvkey)
process = colonies.wait(process, 30, prvkey)
print(process.output[0])
