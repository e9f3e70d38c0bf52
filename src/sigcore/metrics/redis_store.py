"""Aggregation across processes through Redis, off the hot path.

Layout (``prefix`` defaults to ``sigcore``):

* ``{prefix}:counters``: one hash for every process; field ``family|label|...``, value the total. Each
  process adds its deltas with ``HINCRBY``.
* ``{prefix}:gauges:{instance}``: one hash per process, replaced at every flush and expiring after a few
  intervals, so a dead process's peer states vanish; ``{prefix}:instances`` lists them.
* ``{prefix}:batch:{instance}:{seq}``: a marker written by the same Lua script that applies a batch, so
  a batch retried after an ambiguous failure (reply lost) is applied exactly once.

A batch that fails stays pending with its sequence number and is retried first; counts made meanwhile
wait in the registry (memory bounded by the number of series, not by the outage's length).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from sigcore.metrics.families import FLUSH_FAILURES
from sigcore.metrics.registry import Registry, SeriesKey, decode_key, encode_key
from sigcore.metrics.snapshot import Snapshot, merge_gauge
from sigcore.periodic import Periodic

log = logging.getLogger("sigcore.metrics.redis")

_APPLY_BATCH = """
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[1]) then
  for i = 2, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
  return 1
end
return 0
"""
BATCH_MARK_TTL = 3600
DEFAULT_TIMEOUT = 0.5


def connect(url: str, timeout: float = DEFAULT_TIMEOUT) -> Redis:
    """A client that fails fast: no retries, short socket timeouts (a flush may fail; it must not hang)."""
    return Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                          retry=Retry(NoBackoff(), 0), health_check_interval=0)


def instance_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class RedisFlusher:
    """Every ``interval`` seconds, send this process's counter deltas and current gauges to Redis."""

    def __init__(self, registry: Registry, client: Redis, interval: float = 1.0, prefix: str = "sigcore",
                 before_flush: Callable[[], None] | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.registry = registry
        self.client = client
        self.interval = interval
        self.prefix = prefix
        self.before_flush = before_flush
        self.timeout = timeout
        self.instance = instance_name()
        self.delivered: dict[SeriesKey, int] = {}
        self._pending: tuple[int, dict[SeriesKey, int]] | None = None
        self._seq = 0
        self._loop = Periodic(self.flush, interval, "metrics-flush")
        self._failing = False
        self._script = client.register_script(_APPLY_BATCH)

    @property
    def counters_key(self) -> str:
        return f"{self.prefix}:counters"

    # --- lifecycle -----------------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        """End the loop (asked, not cancelled: ``sigcore.periodic``), then deliver the last counts."""
        await self._loop.stop()
        await self.flush()  # last counts of this process, best effort
        await self.client.aclose()

    # --- flushing ------------------------------------------------------------------------------------
    def _deltas(self) -> dict[SeriesKey, int]:
        delivered = self.delivered
        return {k: v - delivered.get(k, 0) for k, v in list(self.registry.counters.items())
                if v != delivered.get(k, 0)}

    async def flush(self) -> bool:
        """Deliver pending counts and gauges; False (and everything kept for later) if Redis failed."""
        if self.before_flush is not None:
            self.before_flush()
        try:
            if self._pending is not None:
                await self._send(*self._pending)
            deltas = self._deltas()
            if deltas:
                self._seq += 1
                self._pending = (self._seq, deltas)
                await self._send(self._seq, deltas)
            elif not self._pending:
                await self._send_gauges(self.client.pipeline(transaction=False))
        except Exception as err:  # redis errors, OSError, TimeoutError: metrics degrade, never raise
            self.registry.inc((FLUSH_FAILURES,))
            if not self._failing:
                log.warning("metrics flush to Redis failed (%s); counting goes on locally", err)
            self._failing = True
            return False
        if self._failing:
            log.info("metrics flush to Redis works again")
        self._failing = False
        return True

    async def _send(self, seq: int, deltas: dict[SeriesKey, int]) -> None:
        args: list[Any] = [BATCH_MARK_TTL]
        for key, delta in deltas.items():
            args += [encode_key(key), delta]
        pipe = self.client.pipeline(transaction=False)
        await self._script(keys=[self.counters_key, f"{self.prefix}:batch:{self.instance}:{seq}"], args=args,
                           client=pipe)
        await self._send_gauges(pipe)
        delivered = self.delivered
        for key, delta in deltas.items():
            delivered[key] = delivered.get(key, 0) + delta
        self._pending = None

    async def _send_gauges(self, pipe: Any) -> None:
        key = f"{self.prefix}:gauges:{self.instance}"
        gauges = {encode_key(k): v for k, v in self.registry.gauges.items()}
        pipe.delete(key)
        if gauges:
            pipe.hset(key, mapping=gauges)
        pipe.hset(key, "_alive", 1)
        pipe.expire(key, max(10, int(self.interval * 5)))
        pipe.sadd(f"{self.prefix}:instances", self.instance)
        async with asyncio.timeout(self.timeout * 2):  # not wait_for (see docs/architecture.md)
            await pipe.execute()


async def read_snapshot(client: Redis, prefix: str = "sigcore", timeout: float = DEFAULT_TIMEOUT) -> Snapshot:
    """Totals over every process (counters) and the merged current gauges."""

    async def read() -> Snapshot:
        snap = Snapshot(source="redis")
        raw = await client.hgetall(f"{prefix}:counters")
        snap.counters = {decode_key(f): int(v) for f, v in raw.items()}
        instances = await client.smembers(f"{prefix}:instances")
        for inst in instances:
            name = inst.decode() if isinstance(inst, bytes) else inst
            values = await client.hgetall(f"{prefix}:gauges:{name}")
            if not values:
                await client.srem(f"{prefix}:instances", name)
                continue
            for f, v in values.items():
                key = decode_key(f)
                if key[0] != "_alive":
                    snap.gauges[key] = merge_gauge(key, snap.gauges.get(key), float(v))
        return snap

    async with asyncio.timeout(timeout * 4):
        return await read()
