"""``/api/v1/stats/diameter``: answers by command and peer counters, from the metrics registry (read-only).

The same numbers as ``/metrics`` (summed over every process when the metrics go through Redis), as JSON
for clients that draw rates: the web console polls it. Rates are the client's business (two readings).
"""

from __future__ import annotations

import time
from functools import cache
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from sigcore.api.auth import READ
from sigcore.api.context import ApiContext, context
from sigcore.diameter.dictionary import DICTIONARY
from sigcore.metrics.families import DIA_ANSWERS, DIA_LATENCY, PEER_EVENTS, PEER_STATE, PEER_TRANSITIONS, REGISTRY
from sigcore.metrics.snapshot import Snapshot, local_snapshot

router = APIRouter(prefix="/stats", tags=["statistics"])
Ctx = Annotated[ApiContext, Depends(context)]


class CommandStats(BaseModel):
    application_id: int
    application: str
    command_code: int
    command: str
    answers: int = Field(description="answers sent since the process (or the Redis totals) started")
    errors: int = Field(description="answers whose result was not a 2xxx success")
    latency_sum_us: int = Field(description="sum of the answers' latencies, microseconds")


class PeerStats(BaseModel):
    name: str
    state_code: int | None = Field(description="1 Closed .. 6 R-Open, 7 I-Open, 8 Closing (as in the MIB)")
    transitions: int
    connections_opened: int
    connections_lost: int


class DiameterStats(BaseModel):
    taken_at: float = Field(description="Unix time of the reading")
    source: str = Field(description="'redis': every process; 'local': this process only")
    commands: list[CommandStats]
    peers: list[PeerStats]


@cache
def command_name(app_id: int, code: int) -> tuple[str, str]:
    """(application, command) names from the dictionary, or the numbers when it does not know them."""
    command = DICTIONARY.command(app_id, code, True)
    application = DICTIONARY.applications.get(app_id, str(app_id))
    return application, (command.short or command.name) if command else f"command {code}"


async def _snapshot(ctx: ApiContext) -> Snapshot:
    endpoint = ctx.services.metrics
    return await endpoint.snapshot() if endpoint is not None else local_snapshot(REGISTRY)


def _state_code(snap: Snapshot, peer: str) -> int | None:
    code = snap.gauges.get((PEER_STATE, peer))
    return int(code) if code is not None else None


def diameter_stats(snap: Snapshot) -> DiameterStats:
    answers: dict[tuple[int, int], list[int]] = {}
    for key, value in snap.counters.items():
        if key[0] == DIA_ANSWERS:
            app, cmd, _vendor, code = (int(k) for k in key[1:5])
            counts = answers.setdefault((app, cmd), [0, 0])
            counts[0] += value
            counts[1] += 0 if 2000 <= code < 3000 else value
    commands = []
    for (app, cmd), (total, errors) in sorted(answers.items()):
        application, command = command_name(app, cmd)
        commands.append(CommandStats(application_id=app, application=application, command_code=cmd, command=command,
                                     answers=total, errors=errors,
                                     latency_sum_us=snap.counter(DIA_LATENCY + "_sum_us", app, cmd)))
    families = (PEER_STATE, PEER_EVENTS, PEER_TRANSITIONS)
    names = sorted({str(k[1]) for k in (*snap.counters, *snap.gauges) if k[0] in families})
    peers = [PeerStats(name=n, state_code=_state_code(snap, n), transitions=snap.counter(PEER_TRANSITIONS, n),
                       connections_opened=snap.counter(PEER_EVENTS, n, "up"),
                       connections_lost=snap.counter(PEER_EVENTS, n, "down")) for n in names]
    return DiameterStats(taken_at=time.time(), source=snap.source, commands=commands, peers=peers)


@router.get("/diameter", response_model=DiameterStats, dependencies=[READ],
            summary="Diameter answers by command and peer counters (for rates: read twice)")
async def get_diameter_stats(ctx: Ctx) -> DiameterStats:
    return diameter_stats(await _snapshot(ctx))
