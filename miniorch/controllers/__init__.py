"""Controllers: the impure loops (observe store + nodes, plan with `reconcile`, act, record).

Blocking work stays off the event loop, one rule for all of them:
- Docker calls never run on the loop: they go through a node's call threads
  (`nodes/calls.py`, `client.run`) or its heartbeat prober.
- Store calls from a coroutine go through `await storeio.store_io(fn, *args)`, one call or
  one synchronous pass made of store calls (the CronJob pass); never `asyncio.to_thread`
  here and a direct call there.
- The one exception is the workload pass (`WorkloadController.reconcile_once`, the
  planners and PodSync it calls): it reads and writes the store directly, on the loop,
  because it shares the PodRunner's table of operations in flight with the loop and must
  not interleave with it; its calls are cached reads and short writes. The pod operations
  it starts (PodRunner tasks) make their store calls off the loop.
Wiring lives in `wiring.py` (the composition root's half for controllers); every task and
thread is started through `miniorch.supervise`.
"""
