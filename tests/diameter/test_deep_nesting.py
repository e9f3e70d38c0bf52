"""Grouped AVPs nested 1,000 and 100,000 levels deep: refused with 5008 naming the AVP, never a
RecursionError, the connection still usable; the compiled walk leaves such messages to the Python walk."""

from __future__ import annotations

import pytest
from frames import ccr_nested
from nodefixtures import Served
from rawpeer import RawPeer, ccr
from test_node_errors import failed_avps, open_peer
from test_speedups import compiled_walk, python_walk, speedups

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.constants import HEADER_LEN, ResultCode
from sigcore.diameter.dictionary import MAX_GROUP_DEPTH
from sigcore.diameter.errors import DiameterError

MSCC = 456


@pytest.mark.parametrize("levels", [1_000, 100_000])
def test_the_walk_refuses_deep_nesting_with_5008(levels: int) -> None:
    frame = ccr_nested(levels)
    cmd = D.command(4, 272, True)
    with pytest.raises(DiameterError) as err:
        D.check_raw(frame, HEADER_LEN, len(frame), cmd.rules if cmd else None)
    assert err.value.result_code == ResultCode.AVP_NOT_ALLOWED
    outer = err.value.failed_avps[0]
    assert outer.code == MSCC and len(outer.to_bytes()) < 1024  # the path to the deep AVP, not its content


def test_the_limit_is_the_same_in_both_walks() -> None:
    allowed, refused = ccr_nested(MAX_GROUP_DEPTH), ccr_nested(MAX_GROUP_DEPTH + 1)
    assert python_walk(allowed)[0] is None
    assert python_walk(refused)[0] is not None
    if speedups is not None:
        assert compiled_walk(allowed)[0] is True
        assert compiled_walk(refused)[0] is False  # left to the Python walk


@pytest.mark.parametrize("levels", [1_000, 100_000])
async def test_the_node_answers_and_keeps_the_connection(server: Served, levels: int) -> None:
    peer: RawPeer = await open_peer(server)
    try:
        await peer.send(ccr_nested(levels))
        answer = await peer.read(timeout=10)
        assert answer["Result-Code"] == ResultCode.AVP_NOT_ALLOWED
        assert answer.hop_by_hop == 9 and failed_avps(answer)[0].code == MSCC
        await peer.send(ccr(hbh=10, e2e=10).encode())
        after = await peer.read()
        assert after["Result-Code"] == 2001 and after.hop_by_hop == 10
    finally:
        await peer.close()
