"""Executors that serve processes from a Colonies server (layer L5).

* `runner.Runner` -- the loop every executor here uses: assign, run up to N at once inside the
  process's CFS mount, stream logs, close; reconnects with backoff; stops cleanly.
* `job.Job` -- what a running function sees: `log()`, `fs`, `stopping`.
* `sample` -- the built-in sample functions of `dev` and `executor start --type cli`.
* `container` -- `execute` in a container through docker or podman (`--type container-executor`).
* `stream` -- a command run with its output streamed to the process log.
"""
