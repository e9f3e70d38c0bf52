"""The Cx and Sh XML documents validate against the 3GPP schemas, with every part sigcore can emit."""

from __future__ import annotations

import pytest

from sigcore.hss.ims.documents import (
    DocumentError,
    ProfileGroup,
    ShDataParts,
    ims_subscription,
    parse_repository_updates,
    sh_data,
    validate_cx,
    validate_sh,
)
from sigcore.store.ims import Ifc, PublicIdentity, RegState, RepositoryData, ServiceProfile

IFCS = (Ifc(1, "sip:as1.localdomain", 0, "svc", 0, "INVITE", 0, "sip:.*"), Ifc(2, "sip:as2.localdomain", 1))
PROFILE = ServiceProfile(1, "gold", 3, IFCS, (7, 8), (1,), (2,), {"ccf_primary": "aaa://ccf.localdomain"})


def identity(uri: str, **kw: object) -> PublicIdentity:
    values: dict[str, object] = dict(id=1, impu=uri, identity_type=0, wildcard=None, display_name=None, barred=False,
                                     profile_id=1, implicit_set=1, preferred_scscf=None,
                                     reg_state=RegState.REGISTERED, scscf_name=None, scscf_host=None, scscf_realm=None)
    values.update(kw)
    return PublicIdentity(**values)  # type: ignore[arg-type]


def test_ims_subscription_with_everything_is_valid() -> None:
    doc = ims_subscription("alice@localdomain", [ProfileGroup(PROFILE, [
        identity("sip:alice@localdomain", display_name="Alice"), identity("tel:+15551234", barred=True),
        identity("sip:conf!.*!@localdomain", identity_type=2, wildcard="sip:conf.*")])])
    validate_cx(doc)
    assert b"<BarringIndication>1</BarringIndication>" in doc and b"<SharedIFCSetID>8</SharedIFCSetID>" in doc


def test_sh_data_with_every_part_is_valid() -> None:
    doc = sh_data(ShDataParts(public_identities=["sip:alice@localdomain"], msisdns=["15551234"],
                              repository=[RepositoryData("mmtel", 3, b"<a>1</a><b/>")], scscf_name="sip:scscf",
                              ifcs=list(IFCS), ims_user_state=1, charging=PROFILE.charging, imsi="001010000000001"))
    validate_sh(doc)
    updates = parse_repository_updates(doc)
    assert updates[0].sequence == 3 and updates[0].data == b"<a>1</a><b/>"


def test_invalid_or_hostile_sh_data_is_refused() -> None:
    with pytest.raises(DocumentError):
        parse_repository_updates(b"<Sh-Data><RepositoryData><SequenceNumber>1</SequenceNumber></RepositoryData></Sh-Data>")
    with pytest.raises(DocumentError):
        parse_repository_updates(b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><Sh-Data>&e;</Sh-Data>')
