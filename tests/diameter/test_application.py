"""The application contract (sigcore.diameter.application): handlers named by command, `Rejected` with a
Result-Code or an Experimental-Result, the application's AVPs in the node's own error answers, Session-Ids."""

from __future__ import annotations

import re

import pytest
from nodefixtures import start_server
from rawpeer import RawPeer, ccr, ccr_avps

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.aio import RequestContext
from sigcore.diameter.application import (
    NO_STATE_MAINTAINED,
    Application,
    Rejected,
    SessionIds,
    answer,
    experimental_3gpp,
    new_session_id,
    resolve_command,
)
from sigcore.diameter.constants import FLAG_ERROR, ResultCode
from sigcore.diameter.message import Message


def test_commands_resolve_by_full_name_without_request_and_short_name() -> None:
    assert resolve_command(D, 16777251, "Authentication-Information-Request") == 318
    assert resolve_command(D, 16777251, "Authentication-Information") == 318
    assert resolve_command(D, 16777251, "AIR") == 318
    assert resolve_command(D, 4, "Credit-Control") == 272
    assert resolve_command(D, 4, 999) == 999
    with pytest.raises(ValueError, match="belongs to application 16777251"):
        resolve_command(D, 4, "AIR")
    with pytest.raises(ValueError, match="no request command named 'Nope'"):
        resolve_command(D, 4, "Nope")
    with pytest.raises(ValueError, match="no request command"):
        resolve_command(D, 16777251, "Authentication-Information-Answer")


def test_rejected_takes_exactly_one_of_result_code_and_experimental() -> None:
    with pytest.raises(ValueError):
        Rejected()
    with pytest.raises(ValueError):
        Rejected(5012, experimental=(10415, 5001))
    assert Rejected(ResultCode.UNABLE_TO_DELIVER).is_protocol_error
    assert not experimental_3gpp(3001).is_protocol_error  # an Experimental-Result never sets the E-bit


def test_session_ids_follow_rfc6733_8_8_and_carry_into_the_high_part() -> None:
    gen = SessionIds("hss.example", boot=7)
    assert gen() == "hss.example;7;1"
    assert gen("app") == "hss.example;7;2;app"
    gen._count = iter([1 << 32 | 5])  # type: ignore[assignment]
    assert gen() == "hss.example;8;5"
    a, b = new_session_id("x.example"), new_session_id("x.example")
    assert re.fullmatch(r"x\.example;\d+;\d+", a) and a != b


def _cc_app(calls: list[str]) -> Application:
    app = Application(4, name="credit-control stand-in",
                      answer_avps=[D.build("Auth-Session-State", NO_STATE_MAINTAINED)])

    @app.handler("Credit-Control")
    async def ccr_handler(req: Message, ctx: RequestContext) -> Message:
        number = int(req["CC-Request-Number"])
        calls.append(f"ccr {number}")
        if number == 1:
            raise experimental_3gpp(5030, "user unknown")
        if number == 2:
            raise Rejected(ResultCode.UNABLE_TO_COMPLY, "busy", avps=[D.build("Auth-Session-State", 0)])
        return answer(req, ctx.node.identity, ResultCode.SUCCESS, [D.build("Auth-Application-Id", 4)])

    return app


async def test_an_application_installs_by_command_name_and_rejects_with_either_result_kind() -> None:
    served = await start_server()
    calls: list[str] = []
    _cc_app(calls).install(served.node)
    peer = await RawPeer.connect(served.port)
    try:
        await peer.handshake()
        for n in range(3):
            await peer.send(ccr(hbh=10 + n, avps=ccr_avps(CC_Request_Number=n)).encode())
        ok, unknown, busy = [await peer.read() for _ in range(3)]
        assert ok["Result-Code"] == 2001 and ok.hop_by_hop == 10
        assert unknown.get("Result-Code") is None
        exp = unknown["Experimental-Result"]
        assert (exp["Vendor-Id"], exp["Experimental-Result-Code"]) == (10415, 5030)
        assert not unknown.flags & FLAG_ERROR and unknown["Error-Message"] == "user unknown"
        assert unknown["Auth-Session-State"] == NO_STATE_MAINTAINED  # the application's error AVPs
        assert busy["Result-Code"] == 5012 and busy["Auth-Session-State"] == 0  # the error's own win
        # an error the node finds itself (a missing mandatory AVP) carries the application's AVPs too
        await peer.send(ccr(hbh=20, avps=ccr_avps(CC_Request_Number=None)).encode())
        missing = await peer.read()
        assert missing["Result-Code"] == ResultCode.MISSING_AVP
        assert missing["Auth-Session-State"] == NO_STATE_MAINTAINED
        assert calls == ["ccr 0", "ccr 1", "ccr 2"]
    finally:
        await peer.close()
        await served.node.stop(wait=0.2)
