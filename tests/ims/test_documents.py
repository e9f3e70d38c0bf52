"""The Cx and Sh XML documents validate against the 3GPP schemas, with every part sigcore can emit."""

from __future__ import annotations

import pytest
from lxml import etree  # type: ignore[import-untyped]

from sigcore.hss.ims.documents import (
    DocumentError,
    EpsLocation,
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
                              repository=[RepositoryData("mmtel", 3, b"<a>1<b/></a>")], scscf_name="sip:scscf",
                              ifcs=list(IFCS), ims_user_state=1, charging=PROFILE.charging, imsi="001010000000001"))
    validate_sh(doc)
    updates = parse_repository_updates(doc)
    assert updates[0].sequence == 3 and updates[0].data == b"<a>1<b/></a>"


def test_invalid_or_hostile_sh_data_is_refused() -> None:
    with pytest.raises(DocumentError):
        parse_repository_updates(b"<Sh-Data><RepositoryData><SequenceNumber>1</SequenceNumber></RepositoryData></Sh-Data>")
    with pytest.raises(DocumentError):
        parse_repository_updates(b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><Sh-Data>&e;</Sh-Data>')


def test_sh_data_with_user_state_location_and_identities_is_valid() -> None:
    doc = sh_data(ShDataParts(scscf_name="sip:scscf", cs_location_unavailable=True, ps_location_unavailable=True,
                              cs_user_state=1, ps_user_state=6, eps_user_state=2,
                              eps_location=EpsLocation("mme1.localdomain", 5), imsi="001010000000001",
                              private_identities=["alice@localdomain", "alice2@localdomain"]))
    validate_sh(doc)
    root = etree.fromstring(doc)
    assert [e.tag for e in root] == ["Sh-IMS-Data", "CSLocationInformation", "PSLocationInformation",
                                     "CSUserState", "PSUserState", "Extension"]
    assert root.findtext("Sh-IMS-Data/SCSCFName") == "sip:scscf"
    level4 = root.find("Extension/Extension/Extension/Extension")
    assert level4 is not None and [e.tag for e in level4] == ["EPSUserState", "EPSLocationInformation", "Extension"]


@pytest.mark.parametrize("body", [
    b"<Sh-IMS-Data><S-CSCFName>sip:s</S-CSCFName></Sh-IMS-Data>",  # TS 29.328 names it SCSCFName
    b"<Extension><IMSI>001010000000001</IMSI></Extension>",  # IMSI sits in the fifth Extension
    b"<PSUserState>7</PSUserState>",
    b"<CSUserState>4</CSUserState>",
    b"<CSLocationInformation><MMEName>mme</MMEName></CSLocationInformation>",
    b"<Extension><Extension><Extension><Extension><EPSLocationInformation><AgeOfLocationInformation>40000"
    b"</AgeOfLocationInformation></EPSLocationInformation></Extension></Extension></Extension></Extension>",
    b"<PSUserState>1</PSUserState><CSUserState>1</CSUserState>",  # order of tShData
    b"<RepositoryData><ServiceIndication>x</ServiceIndication><SequenceNumber>0</SequenceNumber>"
    b"<ServiceData><a/><b/></ServiceData></RepositoryData>",  # ServiceData holds exactly one element
])
def test_sh_schema_is_strict_where_annex_d_is(body: bytes) -> None:
    with pytest.raises(DocumentError):
        validate_sh(b"<Sh-Data>" + body + b"</Sh-Data>")
