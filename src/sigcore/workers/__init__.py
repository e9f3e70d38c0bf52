"""``sigcore run --workers N``: N processes sharing the Diameter and API listeners (SO_REUSEPORT).

* `supervisor`: the process the operator starts; makes the key and the schema ready once, starts the N
  workers (``sigcore run`` again, with `Worker` in the environment), forwards SIGINT/SIGTERM, waits.
* `relay`: a worker's requests for a peer whose connection another worker holds (CLR, IDR, DSR, RTR, PPR)
  go to that worker over a Unix socket, which sends them and hands the answer back.

Each worker is a whole `sigcore run` (its own event loop, database connections and caches); what keeps them
correct together is the database (SQN reservation and registrations are locked transactions, as between
two nodes, docs/deployment.md). Metrics are summed over the workers through ``metrics.redis.url``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

ENV = "SIGCORE_WORKER"  # "<group>:<index>:<count>", set by the supervisor for each worker


@dataclass(frozen=True)
class Worker:
    """This process's place among the workers; `group` names the set (the supervisor's pid)."""

    group: str
    index: int
    count: int

    @classmethod
    def from_environment(cls) -> Worker | None:
        value = os.environ.get(ENV)
        if not value:
            return None
        group, index, count = value.split(":")
        return cls(group, int(index), int(count))

    def encode(self) -> str:
        return f"{self.group}:{self.index}:{self.count}"

    def socket_name(self, index: int | None = None) -> str:
        """The abstract Unix socket of worker `index` (default: this one): no file to clean up."""
        return f"\0sigcore-{self.group}-{self.index if index is None else index}"

    @property
    def siblings(self) -> list[int]:
        return [i for i in range(self.count) if i != self.index]
