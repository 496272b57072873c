"""Benchmarks (`make bench`) and chaos runs (`make chaos`): the harness that measures the stack and breaks it.

Not part of `make test`: each run starts stacks of its own (embedded PostgreSQL, the Temporal dev
server, worker processes) on free loopback ports and takes minutes. `docs/performance.md` holds the
figures with the commands that produced them.
"""
