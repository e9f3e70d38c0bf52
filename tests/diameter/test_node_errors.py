"""Every Result-Code of the stack, provoked with faulty bytes over real TCP (RFC 6733 §7)."""

from __future__ import annotations

import asyncio

import pytest
from nodefixtures import Served, start_server
from rawpeer import RawPeer, ccr, ccr_avps

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.avp import Avp
from sigcore.diameter.constants import FLAG_ERROR, FLAG_RETRANSMIT, ResultCode
from sigcore.diameter.message import Message


def failed_avps(ans: Message) -> list[Avp]:
    return [child for group in ans.find_all(279) for child in group.children()]


async def open_peer(server: Served) -> RawPeer:
    peer = await RawPeer.connect(server.port)
    cea = await peer.handshake()
    assert cea["Result-Code"] == ResultCode.SUCCESS
    return peer


async def ask(server: Served, msg_bytes: bytes) -> Message:
    peer = await open_peer(server)
    try:
        await peer.send(msg_bytes)
        return await peer.read()
    finally:
        await peer.close()


async def test_valid_request_answered(server: Served) -> None:
    ans = await ask(server, ccr(hbh=42, e2e=43).encode())
    assert ans["Result-Code"] == 2001
    assert (ans.hop_by_hop, ans.end_to_end) == (42, 43)
    assert not ans.is_error and not ans.is_request


async def test_request_split_across_reads_is_answered(server: Served) -> None:
    peer = await open_peer(server)
    data = ccr(hbh=7).encode() + ccr(hbh=8).encode()
    for i in range(0, len(data), 5):  # 5-byte writes, with pauses, so the server sees many reads
        await peer.send(data[i:i + 5])
        await asyncio.sleep(0.001)
    answers = [await peer.read(), await peer.read()]
    assert [a.hop_by_hop for a in answers] == [7, 8]
    assert all(a["Result-Code"] == 2001 for a in answers)
    await peer.close()


async def test_several_requests_in_one_write(server: Served) -> None:
    peer = await open_peer(server)
    await peer.send(b"".join(ccr(hbh=i).encode() for i in range(1, 11)))
    assert sorted([(await peer.read()).hop_by_hop for _ in range(10)]) == list(range(1, 11))
    await peer.close()


async def test_5014_avp_length_beyond_message(server: Served) -> None:
    wire = bytearray(ccr().encode())
    # The last AVP (CC-Request-Number, 12 bytes) claims 64 bytes.
    wire[-12 + 5:-12 + 8] = (64).to_bytes(3, "big")
    ans = await ask(server, bytes(wire))
    assert ans["Result-Code"] == ResultCode.INVALID_AVP_LENGTH
    assert [(a.code, a.vendor) for a in failed_avps(ans)] == [D.avp("CC-Request-Number").key]


async def test_5014_fixed_size_type_with_wrong_length(server: Served) -> None:
    bad = Avp(D.avp("CC-Request-Number").code, b"\0\0\0\0\1")
    ans = await ask(server, ccr(avps=[*ccr_avps(CC_Request_Number=None), bad]).encode())
    assert ans["Result-Code"] == ResultCode.INVALID_AVP_LENGTH
    assert failed_avps(ans) == [bad]


async def test_5004_invalid_utf8(server: Served) -> None:
    bad = Avp(D.avp("Service-Context-Id").code, b"\xff\xfe@3gpp.org")
    ans = await ask(server, ccr(avps=[*ccr_avps(Service_Context_Id=None), bad]).encode())
    assert ans["Result-Code"] == ResultCode.INVALID_AVP_VALUE
    assert failed_avps(ans) == [bad]
    assert "UTF-8" in ans["Error-Message"]


async def test_5005_missing_avp_with_zero_filled_example(server: Served) -> None:
    ans = await ask(server, ccr(avps=ccr_avps(CC_Request_Type=None)).encode())
    assert ans["Result-Code"] == ResultCode.MISSING_AVP
    [example] = failed_avps(ans)
    assert example.key == D.avp("CC-Request-Type").key and example.data == b"\0\0\0\0"
    assert not ans.is_error


async def test_5008_avp_not_allowed_inside_grouped(server: Served) -> None:
    intruder = D.build("Session-Id", "x")
    vsai = D.build("Vendor-Specific-Application-Id", [("Vendor-Id", 10415), ("Auth-Application-Id", 4), intruder])
    ans = await ask(server, ccr(avps=[*ccr_avps(), vsai]).encode())
    assert ans["Result-Code"] == ResultCode.AVP_NOT_ALLOWED
    [wrapper] = [child for group in ans.find_all(279) for child in group.children()]
    assert wrapper.key == vsai.key and intruder in wrapper.children()


async def test_5009_avp_occurs_too_many_times(server: Served) -> None:
    ans = await ask(server, ccr(avps=[*ccr_avps(), D.build("Origin-Realm", "again")]).encode())
    assert ans["Result-Code"] == ResultCode.AVP_OCCURS_TOO_MANY_TIMES
    assert [a.key for a in failed_avps(ans)] == [D.avp("Origin-Realm").key]


async def test_5001_unknown_mandatory_avp(server: Served) -> None:
    unknown = Avp(65000, b"boom", flags=0x40, vendor=99999)
    ans = await ask(server, ccr(avps=[*ccr_avps(), unknown]).encode())
    assert ans["Result-Code"] == ResultCode.AVP_UNSUPPORTED
    assert failed_avps(ans) == [unknown]


async def test_unknown_optional_avp_is_ignored(server: Served) -> None:
    ans = await ask(server, ccr(avps=[*ccr_avps(), Avp(65000, b"fine", flags=0, vendor=99999)]).encode())
    assert ans["Result-Code"] == 2001


async def test_3008_e_bit_in_request(server: Served) -> None:
    ans = await ask(server, ccr(flags=0xC0 | FLAG_ERROR).encode())
    assert ans["Result-Code"] == ResultCode.INVALID_HDR_BITS and ans.is_error


async def test_3009_m_bit_where_it_must_not_be(server: Served) -> None:
    bad = D.build("Product-Name", "x", flags=0x40)  # RFC 6733 §4.5: Product-Name M-bit MUST NOT be set
    ans = await ask(server, ccr(avps=[*ccr_avps(), bad]).encode())
    assert ans["Result-Code"] == ResultCode.INVALID_AVP_BITS and ans.is_error
    assert failed_avps(ans) == [bad]


async def test_5015_length_not_multiple_of_four(server: Served) -> None:
    wire = ccr().encode() + b"\0\0"
    wire = wire[:1] + len(wire).to_bytes(3, "big") + wire[4:]
    ans = await ask(server, wire)
    assert ans["Result-Code"] == ResultCode.INVALID_MESSAGE_LENGTH


async def test_5015_unframeable_length_answers_then_closes(server: Served) -> None:
    peer = await open_peer(server)
    wire = bytearray(ccr(hbh=9).encode())
    wire[1:4] = (12).to_bytes(3, "big")
    await peer.send(bytes(wire))
    ans = await peer.read()
    assert ans["Result-Code"] == ResultCode.INVALID_MESSAGE_LENGTH and ans.hop_by_hop == 9
    assert await peer.closed()


async def test_5011_unsupported_version(server: Served) -> None:
    wire = bytearray(ccr().encode())
    wire[0] = 2
    ans = await ask(server, bytes(wire))
    assert ans["Result-Code"] == ResultCode.UNSUPPORTED_VERSION


async def test_3001_command_unsupported(server: Served) -> None:
    ans = await ask(server, ccr(code=999).encode())
    assert ans["Result-Code"] == ResultCode.COMMAND_UNSUPPORTED and ans.is_error
    assert ans.code == 999


async def test_3007_application_unsupported(server: Served) -> None:
    ans = await ask(server, ccr(app=16777299).encode())
    assert ans["Result-Code"] == ResultCode.APPLICATION_UNSUPPORTED and ans.is_error


async def test_p_bit_does_not_affect_dispatch(server: Served) -> None:
    ans = await ask(server, ccr(flags=0x80).encode())
    assert ans["Result-Code"] == 2001 and not ans.is_proxiable


async def test_3002_destination_host_not_us(server: Served) -> None:
    ans = await ask(server, ccr(avps=[*ccr_avps(), D.build("Destination-Host", "other.localdomain")]).encode())
    assert ans["Result-Code"] == ResultCode.UNABLE_TO_DELIVER and ans.is_error


async def test_3003_realm_not_served(server: Served) -> None:
    ans = await ask(server, ccr(avps=ccr_avps(Destination_Realm="elsewhere.net")).encode())
    assert ans["Result-Code"] == ResultCode.REALM_NOT_SERVED and ans.is_error


async def test_3010_unknown_peer_refused() -> None:
    served = await start_server(allow=[])
    try:
        peer = await RawPeer.connect(served.port)
        cea = await peer.handshake()
        assert cea["Result-Code"] == ResultCode.UNKNOWN_PEER and cea.is_error
        assert await peer.closed()
        assert not served.calls
    finally:
        await served.node.stop(wait=0.2)


async def test_5010_no_common_application(server: Served) -> None:
    peer = await RawPeer.connect(server.port)
    cea = await peer.handshake(apps={16777238: 10415})  # Gx only
    assert cea["Result-Code"] == ResultCode.NO_COMMON_APPLICATION
    assert await peer.closed()


async def test_first_message_not_cer_closes(server: Served) -> None:
    peer = await RawPeer.connect(server.port)
    await peer.send(ccr().encode())
    assert await peer.closed()


async def test_duplicate_t_bit_request_gets_the_same_answer_once_handled(server: Served) -> None:
    peer = await open_peer(server)
    await peer.send(ccr(hbh=1, e2e=555).encode())
    first = await peer.read()
    await peer.send(ccr(hbh=2, e2e=555, flags=0xC0 | FLAG_RETRANSMIT).encode())
    second = await peer.read()
    assert second.hop_by_hop == 2 and second.end_to_end == 555
    assert second.avps == first.avps
    assert len(server.calls) == 1
    await peer.close()


@pytest.mark.parametrize("cause", [0, 1, 2])
async def test_dpr_answered_with_dpa(server: Served, cause: int) -> None:
    peer = await open_peer(server)
    dpr = Message(282, 0, 0x80, 5, 5, D.build_many([("Origin-Host", "client.localdomain"),
                                                     ("Origin-Realm", "localdomain"), ("Disconnect-Cause", cause)]))
    await peer.send(dpr.encode())
    dpa = await peer.read()
    assert dpa.code == 282 and dpa["Result-Code"] == 2001
    assert await peer.closed()


async def test_dwr_answered_with_dwa(server: Served) -> None:
    peer = await open_peer(server)
    dwr = Message(280, 0, 0x80, 6, 6, D.build_many([("Origin-Host", "client.localdomain"),
                                                     ("Origin-Realm", "localdomain")]))
    await peer.send(dwr.encode())
    dwa = await peer.read()
    assert dwa.code == 280 and dwa["Result-Code"] == 2001 and dwa.hop_by_hop == 6
    await peer.close()


async def test_server_sends_dwr_after_tw_of_silence() -> None:
    served = await start_server(tw=0.5)
    served.node.settings.policy.jitter = 0.1
    try:
        peer = await open_peer(served)
        dwr = await peer.read(timeout=3.0)
        assert dwr.code == 280 and dwr.is_request
        await peer.close()
    finally:
        await served.node.stop(wait=0.2)


async def test_traffic_keeps_one_watchdog_timer_and_silence_still_brings_a_dwr() -> None:
    """Each request moves the watchdog later; the node keeps the timer it has (firing early is harmless)
    rather than replacing it per request, and a DWR still follows Tw of silence."""
    served = await start_server(tw=0.6)
    served.node.settings.policy.jitter = 0.0
    try:
        peer = await open_peer(served)
        timers = served.node._timers
        first = next(iter(timers.values()))
        for n in range(8):  # 0.8 s of traffic: longer than Tw, so only the traffic keeps the DWR away
            await peer.send(ccr(hbh=100 + n, e2e=100 + n).encode())
            ans = await peer.read(timeout=2.0)
            assert ans.code == 272 and ans.hop_by_hop == 100 + n  # never a DWR in between
            assert len(timers) == 1
            if n < 4:  # before the first timer fires (at 0.6 s) it is the same handle
                assert next(iter(timers.values())) is first
            await asyncio.sleep(0.1)
        dwr = await peer.read(timeout=3.0)
        assert dwr.code == 280 and dwr.is_request
        await peer.close()
    finally:
        await served.node.stop(wait=0.2)
