"""Numbers of Cx/Dx (TS 29.229 §6.2, §6.3) and Sh (TS 29.329 §6.2, §6.3)."""

from __future__ import annotations

from enum import IntEnum, IntFlag

from sigcore.diameter.constants import VENDOR_3GPP, AppId

CX_APP = int(AppId.CX)
SH_APP = int(AppId.SH)
VENDOR = VENDOR_3GPP


class CxCommand(IntEnum):
    UAR = 300
    SAR = 301
    LIR = 302
    MAR = 303
    RTR = 304
    PPR = 305


class ShCommand(IntEnum):
    UDR = 306
    PUR = 307
    SNR = 308
    PNR = 309


class CxResult(IntEnum):
    """Experimental-Result-Code values (vendor 10415) of TS 29.229 §6.2."""

    FIRST_REGISTRATION = 2001
    SUBSEQUENT_REGISTRATION = 2002
    UNREGISTERED_SERVICE = 2003
    SERVER_NAME_NOT_STORED = 2004
    USER_UNKNOWN = 5001
    IDENTITIES_DONT_MATCH = 5002
    IDENTITY_NOT_REGISTERED = 5003
    ROAMING_NOT_ALLOWED = 5004
    IDENTITY_ALREADY_REGISTERED = 5005
    AUTH_SCHEME_NOT_SUPPORTED = 5006
    IN_ASSIGNMENT_TYPE = 5007
    TOO_MUCH_DATA = 5008
    NOT_SUPPORTED_USER_DATA = 5009


class ShResult(IntEnum):
    """Experimental-Result-Code values (vendor 10415) of TS 29.329 §6.2."""

    USER_DATA_NOT_AVAILABLE = 4100
    PRIOR_UPDATE_IN_PROGRESS = 4101
    USER_UNKNOWN = 5001
    USER_DATA_NOT_RECOGNIZED = 5100
    OPERATION_NOT_ALLOWED = 5101
    USER_DATA_CANNOT_BE_READ = 5102
    USER_DATA_CANNOT_BE_MODIFIED = 5103
    USER_DATA_CANNOT_BE_NOTIFIED = 5104
    TRANSPARENT_DATA_OUT_OF_SYNC = 5105
    SUBS_DATA_ABSENT = 5106
    NO_SUBSCRIPTION_TO_DATA = 5107
    DSAI_NOT_AVAILABLE = 5108
    TOO_MUCH_DATA = 5008


class AssignmentType(IntEnum):
    """Server-Assignment-Type (TS 29.229 §6.3.15)."""

    NO_ASSIGNMENT = 0
    REGISTRATION = 1
    RE_REGISTRATION = 2
    UNREGISTERED_USER = 3
    TIMEOUT_DEREGISTRATION = 4
    USER_DEREGISTRATION = 5
    TIMEOUT_DEREGISTRATION_STORE_SERVER_NAME = 6
    USER_DEREGISTRATION_STORE_SERVER_NAME = 7
    ADMINISTRATIVE_DEREGISTRATION = 8
    AUTHENTICATION_FAILURE = 9
    AUTHENTICATION_TIMEOUT = 10
    DEREGISTRATION_TOO_MUCH_DATA = 11


class AuthorizationType(IntEnum):
    """User-Authorization-Type (TS 29.229 §6.3.24)."""

    REGISTRATION = 0
    DE_REGISTRATION = 1
    REGISTRATION_AND_CAPABILITIES = 2


class ReasonCode(IntEnum):
    """Reason-Code of the RTR's Deregistration-Reason (TS 29.229 §6.3.17)."""

    PERMANENT_TERMINATION = 0
    NEW_SERVER_ASSIGNED = 1
    SERVER_CHANGE = 2
    REMOVE_S_CSCF = 3


class DataReference(IntEnum):
    """Data-Reference values (TS 29.329 §6.3.4); `docs/ims.md` says which ones sigcore answers and how."""

    REPOSITORY_DATA = 0
    IMS_PUBLIC_IDENTITY = 10
    IMS_USER_STATE = 11
    S_CSCF_NAME = 12
    INITIAL_FILTER_CRITERIA = 13
    LOCATION_INFORMATION = 14
    USER_STATE = 15
    CHARGING_INFORMATION = 16
    MSISDN = 17
    PSI_ACTIVATION = 18
    DSAI = 19
    SERVICE_LEVEL_TRACE_INFO = 21
    IP_ADDRESS_SECURE_BINDING_INFORMATION = 22
    SERVICE_PRIORITY_LEVEL = 23
    SMS_REGISTRATION_INFO = 24
    UE_REACHABILITY_FOR_IP = 25
    TADS_INFORMATION = 26
    STN_SR = 27
    UE_SRVCC_CAPABILITY = 28
    EXTENDED_PRIORITY = 29
    CSRN = 30
    REFERENCE_LOCATION_INFORMATION = 31
    IMSI = 32
    IMS_PRIVATE_USER_IDENTITY = 33
    IMEISV = 34
    UE_5G_SRVCC_CAPABILITY = 35


class RequestedDomain(IntEnum):
    """Requested-Domain (TS 29.329 §6.3.7): which domain UserState / LocationInformation are about."""

    CS_DOMAIN = 0
    PS_DOMAIN = 1


class RequestedNodes(IntFlag):
    """Requested-Nodes bit mask (TS 29.329 §6.3.7A): which serving nodes the PS-domain data is about."""

    MME = 1
    SGSN = 2
    TWAN_AAA_SERVER = 4
    AMF = 8


class CurrentLocation(IntEnum):
    """Current-Location (TS 29.329 §6.3.8)."""

    DO_NOT_NEED_INITIATE_ACTIVE_LOCATION_RETRIEVAL = 0
    INITIATE_ACTIVE_LOCATION_RETRIEVAL = 1


class LocalTimeZoneIndication(IntEnum):
    """Local-Time-Zone-Indication (TS 29.329 §6.3)."""

    ONLY_LOCAL_TIME_ZONE_REQUESTED = 0
    LOCAL_TIME_ZONE_WITH_LOCATION_INFO_REQUESTED = 1


class CsUserState(IntEnum):
    """CSUserState of Sh-Data (TS 29.328 Annex D tCSUserState; the states of TS 23.078)."""

    CAMEL_BUSY = 0
    NETWORK_DETERMINED_NOT_REACHABLE = 1
    ASSUMED_IDLE = 2
    NOT_PROVIDED_FROM_VLR = 3


class PsUserState(IntEnum):
    """PSUserState / EPSUserState of Sh-Data (TS 29.328 Annex D tPSUserState)."""

    DETACHED = 0
    ATTACHED_NOT_REACHABLE_FOR_PAGING = 1
    ATTACHED_REACHABLE_FOR_PAGING = 2
    CONNECTED_NOT_REACHABLE_FOR_PAGING = 3
    CONNECTED_REACHABLE_FOR_PAGING = 4
    NOT_PROVIDED_FROM_SGSN_OR_MME = 5
    NETWORK_DETERMINED_NOT_REACHABLE = 6


class IdentitySet(IntEnum):
    ALL_IDENTITIES = 0
    REGISTERED_IDENTITIES = 1
    IMPLICIT_IDENTITIES = 2
    ALIAS_IDENTITIES = 3


class ImsUserState(IntEnum):
    """IMSUserState of Sh-Data (TS 29.328 §7.6.5)."""

    NOT_REGISTERED = 0
    REGISTERED = 1
    REGISTERED_UNREG_SERVICES = 2
    AUTHENTICATION_PENDING = 3
