"""The XML documents of Cx and Sh: IMSSubscription (TS 29.228 Annex B/E) and Sh-Data (TS 29.328 Annex D).

Built with lxml element by element (never by string pasting), in the schema's element order, and
checked against the schemas in `sigcore/hss/ims/schemas` by the tests (`validate_cx` / `validate_sh`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lxml import etree  # type: ignore[import-untyped]

from sigcore.store.ims import Ifc, PublicIdentity, RepositoryData, ServiceProfile

SCHEMAS = Path(__file__).resolve().parent / "schemas"
_CHARGING_ELEMENTS = (
    ("ecf_primary", "PrimaryEventChargingFunctionName"),
    ("ecf_secondary", "SecondaryEventChargingFunctionName"),
    ("ccf_primary", "PrimaryChargingCollectionFunctionName"),
    ("ccf_secondary", "SecondaryChargingCollectionFunctionName"),
)


class DocumentError(ValueError):
    """A received Sh-Data document is not well formed or not what the schema allows."""


def _sub(parent: etree._Element, tag: str, text: object | None = None) -> etree._Element:
    el = etree.SubElement(parent, tag)
    if text is not None:
        el.text = str(text)
    return el


def _serialise(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


@dataclass(frozen=True, slots=True)
class ProfileGroup:
    """One ServiceProfile element: the profile and the public identities that use it."""

    profile: ServiceProfile
    identities: Sequence[PublicIdentity]


def _ifc(parent: etree._Element, ifc: Ifc) -> None:
    el = _sub(parent, "InitialFilterCriteria")
    _sub(el, "Priority", ifc.priority)
    spts: list[tuple[str, object]] = []
    if ifc.method:
        spts.append(("Method", ifc.method))
    if ifc.session_case is not None:
        spts.append(("SessionCase", ifc.session_case))
    if ifc.request_uri:
        spts.append(("RequestURI", ifc.request_uri))
    if spts:
        trigger = _sub(el, "TriggerPoint")
        _sub(trigger, "ConditionTypeCNF", 1)  # conjunctive normal form: one group per SPT = all must match
        for group, (tag, value) in enumerate(spts):
            spt = _sub(trigger, "SPT")
            _sub(spt, "ConditionNegated", 0)
            _sub(spt, "Group", group)
            _sub(spt, tag, value)
    server = _sub(el, "ApplicationServer")
    _sub(server, "ServerName", ifc.server_name)
    _sub(server, "DefaultHandling", ifc.default_handling)
    if ifc.service_info:
        _sub(server, "ServiceInfo", ifc.service_info)
    if ifc.profile_part is not None:
        _sub(el, "ProfilePartIndicator", ifc.profile_part)


def _public_identity(parent: etree._Element, impu: PublicIdentity) -> None:
    el = _sub(parent, "PublicIdentity")
    if impu.barred:
        _sub(el, "BarringIndication", 1)
    _sub(el, "Identity", impu.impu)
    ext = _sub(el, "Extension")
    _sub(ext, "IdentityType", impu.identity_type)
    if impu.wildcard:
        _sub(ext, "WildcardedPSI", impu.impu)
    if impu.display_name:
        _sub(_sub(ext, "Extension"), "DisplayName", impu.display_name)


def ims_subscription(impi: str, groups: Iterable[ProfileGroup]) -> bytes:
    """The User-Data of SAA/PPR: one ServiceProfile per profile used by the implicit set."""
    root = etree.Element("IMSSubscription")
    _sub(root, "PrivateID", impi)
    for group in groups:
        sp = _sub(root, "ServiceProfile")
        for impu in group.identities:
            _public_identity(sp, impu)
        if group.profile.media_profile_id is not None:
            _sub(_sub(sp, "CoreNetworkServicesAuthorization"), "SubscribedMediaProfileId",
                 group.profile.media_profile_id)
        for ifc in group.profile.ifcs:
            _ifc(sp, ifc)
        if group.profile.shared_ifc_sets:
            ext = _sub(sp, "Extension")
            for shared in group.profile.shared_ifc_sets:
                _sub(ext, "SharedIFCSetID", shared)
    return _serialise(root)


@dataclass(frozen=True, slots=True)
class EpsLocation:
    """EPSLocationInformation (TS 29.328 §7.6.6): the MME's Diameter identity and the minutes since the MME
    last updated the location; both None renders the empty element that says "not available"."""

    mme_name: str | None = None
    age_minutes: int | None = None


@dataclass(slots=True)
class ShDataParts:
    """What one UDA/SNA/PNR carries; every part is optional (only the requested Data-References)."""

    public_identities: Sequence[str] | None = None
    msisdns: Sequence[str] = ()
    repository: Sequence[RepositoryData] = ()
    scscf_name: str | None = None
    ifcs: Sequence[Ifc] | None = None
    ims_user_state: int | None = None
    charging: dict[str, str] | None = None
    cs_location_unavailable: bool = False
    ps_location_unavailable: bool = False
    cs_user_state: int | None = None
    ps_user_state: int | None = None
    eps_user_state: int | None = None
    eps_location: EpsLocation | None = None
    imsi: str | None = None
    private_identities: Sequence[str] = ()

    def has_ims_data(self) -> bool:
        return any(x is not None for x in (self.scscf_name, self.ifcs, self.ims_user_state, self.charging))


def sh_data(parts: ShDataParts) -> bytes:
    """Sh-Data in the element order of TS 29.328 Annex D (tShData, then the Extension chain)."""
    root = etree.Element("Sh-Data")
    if parts.public_identities is not None or parts.msisdns:
        ids = _sub(root, "PublicIdentifiers")
        for uri in parts.public_identities or ():
            _sub(ids, "IMSPublicIdentity", uri)
        for msisdn in parts.msisdns:
            _sub(ids, "MSISDN", msisdn)
    for repo in parts.repository:
        el = _sub(root, "RepositoryData")
        _sub(el, "ServiceIndication", repo.service_indication)
        _sub(el, "SequenceNumber", repo.sequence)
        service_data = _sub(el, "ServiceData")
        for child in _service_data_children(repo.data):
            service_data.append(child)
    if parts.has_ims_data():
        _sh_ims_data(_sub(root, "Sh-IMS-Data"), parts)
    if parts.cs_location_unavailable:
        _sub(root, "CSLocationInformation")
    if parts.ps_location_unavailable:
        _sub(root, "PSLocationInformation")
    if parts.cs_user_state is not None:
        _sub(root, "CSUserState", parts.cs_user_state)
    if parts.ps_user_state is not None:
        _sub(root, "PSUserState", parts.ps_user_state)
    _sh_data_extensions(root, parts)
    return _serialise(root)


def _sh_ims_data(ims: etree._Element, parts: ShDataParts) -> None:
    if parts.scscf_name is not None:
        _sub(ims, "SCSCFName", parts.scscf_name)
    if parts.ifcs is not None:
        holder = _sub(ims, "IFCs")
        for ifc in parts.ifcs:
            _ifc(holder, ifc)
    if parts.ims_user_state is not None:
        _sub(ims, "IMSUserState", parts.ims_user_state)
    if parts.charging is not None:
        charging = _sub(ims, "ChargingInformation")
        for key, tag in _CHARGING_ELEMENTS:
            if parts.charging.get(key):
                _sub(charging, tag, parts.charging[key])


def _sh_data_extensions(root: etree._Element, parts: ShDataParts) -> None:
    """The nested Extension chain of tShData: level 4 holds the EPS user state and location, level 5 the
    IMSI and the private identities (levels 1-3 hold identity sets, DeletedIdentities, TADS: not emitted)."""
    eps = parts.eps_user_state is not None or parts.eps_location is not None
    level5 = parts.imsi is not None or bool(parts.private_identities)
    if not (eps or level5):
        return
    level = root
    for _ in range(4):
        level = _sub(level, "Extension")
    if parts.eps_user_state is not None:
        _sub(level, "EPSUserState", parts.eps_user_state)
    if parts.eps_location is not None:
        location = _sub(level, "EPSLocationInformation")
        if parts.eps_location.mme_name is not None:
            _sub(location, "MMEName", parts.eps_location.mme_name)
        if parts.eps_location.age_minutes is not None:
            _sub(location, "AgeOfLocationInformation", parts.eps_location.age_minutes)
    if level5:
        level = _sub(level, "Extension")
        if parts.imsi is not None:
            _sub(level, "IMSI", parts.imsi)
        for impi in parts.private_identities:
            _sub(level, "IMSPrivateUserIdentity", impi)


def _service_data_children(data: bytes) -> list[etree._Element]:
    """Stored ServiceData content is the XML the AS sent (its child elements), kept as bytes."""
    if not data.strip():
        return []
    holder = etree.fromstring(b"<ServiceData>" + data + b"</ServiceData>", parser=_safe_parser())
    return list(holder)


@dataclass(frozen=True, slots=True)
class RepositoryUpdate:
    service_indication: str
    sequence: int
    data: bytes | None  # None: delete (no ServiceData in the PUR)


def parse_repository_updates(document: bytes) -> list[RepositoryUpdate]:
    """The RepositoryData elements of a PUR's Sh-Data, schema-checked first."""
    root = _parse(document)
    validate_sh(document)
    updates = []
    for repo in root.findall("RepositoryData"):
        si = repo.findtext("ServiceIndication") or ""
        seq = int(repo.findtext("SequenceNumber") or "0")
        service_data = repo.find("ServiceData")
        data = None
        if service_data is not None:
            data = b"".join(etree.tostring(child) for child in service_data)
            if service_data.text and service_data.text.strip() and not len(service_data):
                data = service_data.text.strip().encode()
        updates.append(RepositoryUpdate(si, seq, data))
    return updates


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _parse(document: bytes) -> etree._Element:
    try:
        root = etree.fromstring(document, parser=_safe_parser())
    except etree.XMLSyntaxError as err:
        raise DocumentError(f"Sh-Data is not well formed: {err}") from None
    if root.getroottree().docinfo.doctype:
        raise DocumentError("a document type declaration is not allowed in Sh-Data")  # no entity games
    return root


@cache
def _schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMAS / name)))


def _validate(document: bytes, name: str) -> None:
    schema = _schema(name)
    try:
        valid = schema.validate(_parse(document))
    except etree.Error as err:
        raise DocumentError(f"not valid against {name}: {err}") from None
    if not valid:
        raise DocumentError(f"not valid against {name}: {schema.error_log.last_error}")


def validate_cx(document: bytes) -> None:
    """Raise `DocumentError` unless ``document`` is a valid IMSSubscription (TS 29.228)."""
    _validate(document, "CxDataType.xsd")


def validate_sh(document: bytes) -> None:
    """Raise `DocumentError` unless ``document`` is a valid Sh-Data (TS 29.328)."""
    _validate(document, "ShDataType.xsd")
