"""Request and response bodies of ``/api/v1/ims``: private and public identities, service profiles.

A SIP Digest password is write-only: it is turned into HA1 by the store and forgotten, and no response
model has a field for either. Identities are printable ASCII without spaces (SIP and tel URIs are; other
characters are percent-encoded), at most 255 characters like the columns that hold them. Path segments
cannot hold a ``/``, so identities and profile names used in paths exclude it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from sigcore.api.schemas import Imsi
from sigcore.hss.ims import identities
from sigcore.hss.ims.codes import ReasonCode
from sigcore.store.ims import IdentityType, Ifc, RegState, ServiceProfile
from sigcore.store.ims_admin import PublicIdentityView

URI_PATTERN = r"^[!-~]{1,255}$"
PATH_URI_PATTERN = r"^[!-.0-~]{1,255}$"
PROFILE_NAME_PATTERN = r"^[!-.0-~]{1,100}$"
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"

Uri = Annotated[str, Field(pattern=URI_PATTERN, description="SIP or tel URI (printable ASCII, no spaces)")]
Identity = Annotated[str, Field(pattern=PATH_URI_PATTERN, examples=["sip:alice@ims.example.org"],
                                description="an identity: printable ASCII without spaces or '/'")]
NewImpi = Annotated[str, Field(max_length=255, json_schema_extra={"pattern": identities.IMPI_PATTERN},
                                examples=["alice@ims.example.org"], description="an NAI: username@realm"),
                    AfterValidator(lambda value: identities.private_identity(value, "impi"))]
NewImpu = Annotated[str, Field(max_length=255, json_schema_extra={"pattern": identities.IMPU_PATTERN},
                                examples=["sip:alice@ims.example.org", "tel:+15550001"],
                                description="a sip:, sips: or tel: URI"),
                    AfterValidator(lambda value: identities.public_identity(value, "public_identities"))]
ProfileName = Annotated[str, Field(pattern=PROFILE_NAME_PATTERN, examples=["default"])]
DisplayName = Annotated[str, Field(max_length=100, pattern=TEXT_PATTERN)]
Int31 = Annotated[int, Field(ge=0, le=2**31 - 1)]
Capability = Annotated[int, Field(ge=0, le=2**31 - 1, description="S-CSCF capability (operator-defined number)")]

IdentityKind = Literal["public_user", "distinct_psi", "wildcarded_psi"]
KIND_CODES: dict[str, int] = {"public_user": IdentityType.PUBLIC_USER, "distinct_psi": IdentityType.DISTINCT_PSI,
                              "wildcarded_psi": IdentityType.WILDCARDED_PSI}
KIND_NAMES = {code: name for name, code in KIND_CODES.items()}

DefaultHandling = Literal["session_continued", "session_terminated"]
HANDLING_CODES = {"session_continued": 0, "session_terminated": 1}
ProfilePart = Literal["registered", "unregistered"]
PART_CODES = {"registered": 0, "unregistered": 1}
SessionCase = Literal["originating", "terminating_registered", "terminating_unregistered",
                      "originating_unregistered", "originating_cdiv"]
CASE_CODES = {"originating": 0, "terminating_registered": 1, "terminating_unregistered": 2,
              "originating_unregistered": 3, "originating_cdiv": 4}  # TS 29.228 Annex B tDirectionOfRequest
AuthMethod = Literal["digest", "aka"]
DeregistrationReason = Literal["permanent_termination", "new_server_assigned", "server_change", "remove_s_cscf"]


def _name_of(codes: dict[str, int], code: int | None) -> str | None:
    return next((name for name, value in codes.items() if value == code), None)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- private identities -------------------------------------------------------------------------------


class PrivateIdentityCreate(_In):
    """An IMPI with its IMPUs, registered together (one implicit set; the first is the default IMPU).

    Give `password` (SIP Digest: stored as HA1 only), `imsi` (AKA with the subscriber's Ki/OPc and SQN), or
    both. IMPUs that exist already are shared with this IMPI and keep their set and settings.
    """

    impi: NewImpi
    public_identities: list[NewImpu] = Field(min_length=1, max_length=50)
    password: Annotated[str, Field(min_length=1, max_length=identities.PASSWORD_LEN,
                                   description="write-only")] | None = None
    imsi: Imsi | None = None
    realm: Uri | None = Field(None, description="SIP Digest realm (default: the IMPI's domain)")
    service_profile: ProfileName = Field("default", description="an existing profile ('default' is created)")
    preferred_scscf: Uri | None = None
    barred: list[Uri] = Field([], max_length=50, description="which of `public_identities` start barred")
    roaming_allowed: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> PrivateIdentityCreate:
        if self.password is None and self.imsi is None:
            raise ValueError("give a password (SIP Digest), an imsi (AKA) or both")
        if len(set(self.public_identities)) != len(self.public_identities):
            raise ValueError("public_identities: an identity is listed twice")
        if not set(self.barred) <= set(self.public_identities):
            raise ValueError("barred: only identities listed in public_identities")
        return self


class PrivateIdentityOut(BaseModel):
    impi: str
    imsi: str | None = Field(description="the subscriber whose AKA credentials this IMPI uses")
    digest_realm: str | None = Field(description="set when a SIP Digest password is stored (as HA1 only)")
    authentication: list[AuthMethod]
    roaming_allowed: bool
    public_identities: list[str]


# -- public identities --------------------------------------------------------------------------------


class PublicIdentityFields(_In):
    display_name: DisplayName | None = None
    barred: bool | None = None
    service_profile: ProfileName | None = None
    preferred_scscf: Uri | None = None
    implicit_set_with: Uri | None = Field(
        None, description="join the implicit registration set of this IMPU (same IMPIs needed); "
                          "on a change, the IMPU's own URI gives it a set of its own")


NULLABLE_IMPU_FIELDS = frozenset({"display_name", "preferred_scscf"})


class PublicIdentityCreate(PublicIdentityFields):
    """A further IMPU of existing IMPIs, or a public service identity (distinct or wildcarded): a SIP or tel URI."""

    kind: IdentityKind = "public_user"  # before `impu`, whose check depends on it
    impu: Identity
    wildcard: Annotated[str, Field(min_length=1, max_length=255, pattern=TEXT_PATTERN)] | None = Field(
        None, description="a wildcarded PSI as TS 23.003 §13.5 writes it: the URI with its wildcarded part between "
                          "'!' ('sip:conf-![0-9]+!@ims.example.org'); the part is '.', '\\d' or a [class] with "
                          "'*', '+', '?' or '{m,n}'. Default: `impu` itself")
    private_identities: list[Uri] = Field([], max_length=50, description="IMPIs it belongs to (a user: ≥ 1)")

    @field_validator("impu")
    @classmethod
    def _uri(cls, impu: str, info: ValidationInfo) -> str:
        return identities.public_identity(impu, "impu", wildcarded=info.data.get("kind") == "wildcarded_psi")


class PublicIdentityPatch(PublicIdentityFields):
    """Fields to change; null clears `display_name` and `preferred_scscf`. Registered users get a PPR."""


class RegistrationOut(BaseModel):
    state: RegState
    scscf_name: str | None
    scscf_host: str | None
    scscf_realm: str | None


class PublicIdentityOut(BaseModel):
    impu: str
    kind: IdentityKind
    wildcard: str | None
    display_name: str | None
    barred: bool
    service_profile: str
    implicit_set: list[str] = Field(description="the IMPUs registered together with this one")
    private_identities: list[str]
    preferred_scscf: str | None
    registration: RegistrationOut

    @classmethod
    def of(cls, view: PublicIdentityView) -> PublicIdentityOut:
        i = view.identity
        return cls(impu=i.impu, kind=KIND_NAMES.get(i.identity_type, "public_user"),
                   wildcard=i.wildcard, display_name=i.display_name, barred=i.barred,
                   service_profile=view.service_profile, implicit_set=list(view.implicit_set),
                   private_identities=list(view.private_identities), preferred_scscf=i.preferred_scscf,
                   registration=RegistrationOut(state=i.reg_state, scscf_name=i.scscf_name,
                                                scscf_host=i.scscf_host, scscf_realm=i.scscf_realm))


class DeregisterIn(_In):
    reason: DeregistrationReason = "permanent_termination"
    info: Annotated[str, Field(max_length=255, pattern=TEXT_PATTERN)] = "administrative deregistration"

    @property
    def reason_code(self) -> ReasonCode:
        return ReasonCode[self.reason.upper()]


class DeregisterAccepted(BaseModel):
    impu: str
    private_identities: list[str] = Field(description="the IMPIs an RTR is sent for")
    scscf_host: str | None


# -- service profiles ---------------------------------------------------------------------------------


class IfcIn(_In):
    """One initial filter criterion: the trigger points given must all match (method, session case,
    Request-URI regular expression); none given matches every request."""

    priority: Int31
    server_name: Uri = Field(description="the application server's SIP URI")
    default_handling: DefaultHandling = "session_continued"
    service_info: Annotated[str, Field(max_length=1000, pattern=TEXT_PATTERN)] | None = None
    profile_part: ProfilePart | None = None
    method: Annotated[str, Field(pattern=r"^[A-Za-z]{1,32}$", examples=["INVITE"])] | None = None
    session_case: SessionCase | None = None
    request_uri: Uri | None = None

    def to_ifc(self) -> Ifc:
        return Ifc(self.priority, self.server_name, HANDLING_CODES[self.default_handling], self.service_info,
                   PART_CODES[self.profile_part] if self.profile_part else None,
                   self.method.upper() if self.method else None,
                   CASE_CODES[self.session_case] if self.session_case else None, self.request_uri)


class IfcOut(BaseModel):
    priority: int
    server_name: str
    default_handling: DefaultHandling
    service_info: str | None
    profile_part: ProfilePart | None
    method: str | None
    session_case: SessionCase | None
    request_uri: str | None

    @classmethod
    def of(cls, ifc: Ifc) -> IfcOut:
        return cls.model_validate({
            "priority": ifc.priority, "server_name": ifc.server_name,
            "default_handling": _name_of(HANDLING_CODES, ifc.default_handling) or "session_continued",
            "service_info": ifc.service_info, "profile_part": _name_of(PART_CODES, ifc.profile_part),
            "method": ifc.method, "session_case": _name_of(CASE_CODES, ifc.session_case),
            "request_uri": ifc.request_uri})


class ServiceProfileFields(_In):
    media_profile_id: Int31 | None = Field(None, description="SubscribedMediaProfileId")
    ccf_primary: Uri | None = None
    ccf_secondary: Uri | None = None
    ecf_primary: Uri | None = None
    ecf_secondary: Uri | None = None
    ifcs: list[IfcIn] | None = Field(None, max_length=100, description="replaces the profile's own iFCs")
    shared_ifc_sets: list[Int31] | None = Field(None, max_length=100, description="ids of shared iFC sets")
    mandatory_capabilities: list[Capability] | None = Field(None, max_length=100)
    optional_capabilities: list[Capability] | None = Field(None, max_length=100)

    @model_validator(mode="after")
    def _distinct(self) -> ServiceProfileFields:
        priorities = [i.priority for i in self.ifcs or ()]
        if len(set(priorities)) != len(priorities):
            raise ValueError("ifcs: two iFCs have the same priority")
        if set(self.mandatory_capabilities or ()) & set(self.optional_capabilities or ()):
            raise ValueError("capabilities: a capability is either mandatory or optional, not both")
        return self


PROFILE_LISTS = frozenset({"ifcs", "shared_ifc_sets", "mandatory_capabilities", "optional_capabilities"})
"""Fields that are lists the store replaces as a whole; the others are columns (null clears them)."""


class ServiceProfileCreate(ServiceProfileFields):
    name: ProfileName


class ServiceProfileOut(BaseModel):
    name: str
    media_profile_id: int | None
    ccf_primary: str | None
    ccf_secondary: str | None
    ecf_primary: str | None
    ecf_secondary: str | None
    ifcs: list[IfcOut]
    shared_ifc_sets: list[int]
    mandatory_capabilities: list[int]
    optional_capabilities: list[int]

    @classmethod
    def of(cls, p: ServiceProfile) -> ServiceProfileOut:
        return cls(name=p.name, media_profile_id=p.media_profile_id, ccf_primary=p.charging.get("ccf_primary"),
                   ccf_secondary=p.charging.get("ccf_secondary"), ecf_primary=p.charging.get("ecf_primary"),
                   ecf_secondary=p.charging.get("ecf_secondary"), ifcs=[IfcOut.of(i) for i in p.ifcs],
                   shared_ifc_sets=list(p.shared_ifc_sets), mandatory_capabilities=list(p.mandatory_capabilities),
                   optional_capabilities=list(p.optional_capabilities))
