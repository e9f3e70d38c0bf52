"""`routing.check_local_delivery` sans-IO: Destination-Host/Realm are the base AVPs only (vendor 0), compared
without regard to case; a vendor AVP that shares their codes plays no part."""

from __future__ import annotations

import pytest

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.avp import Avp
from sigcore.diameter.errors import DiameterError
from sigcore.diameter.message import Message
from sigcore.diameter.routing import check_local_delivery


def handler(_msg: Message) -> None:
    return None


def request(*avps: Avp) -> Message:
    return Message(272, 4, 0xC0, 1, 1, [D.build("Session-Id", "s"), *avps])


def deliver(msg: Message) -> object:
    return check_local_delivery(msg, "hss.localdomain", "localdomain", {4}, {(4, 272): handler})


def test_ours_in_any_case_is_delivered() -> None:
    msg = request(D.build("Destination-Host", "HSS.localdomain"), D.build("Destination-Realm", "LocalDomain"))
    assert deliver(msg) is handler


@pytest.mark.parametrize("name,value,code", [("Destination-Host", "other.localdomain", 3002),
                                             ("Destination-Realm", "elsewhere", 3003)])
def test_not_ours_is_refused(name: str, value: str, code: int) -> None:
    with pytest.raises(DiameterError) as err:
        deliver(request(D.build(name, value)))
    assert err.value.result_code == code


def test_a_vendor_avp_with_the_same_code_is_not_a_destination() -> None:
    for base in ("Destination-Host", "Destination-Realm"):
        vendor_avp = Avp(D.avp(base).code, b"elsewhere", 0x80, 10415)
        assert deliver(request(vendor_avp)) is handler
