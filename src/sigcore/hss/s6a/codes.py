"""S6a/S6d numbers of TS 29.272: Experimental-Result codes (§7.4) and the bits of the *-Flags AVPs (§7.3)."""

from __future__ import annotations

from enum import IntEnum, IntFlag

from sigcore.diameter.constants import VENDOR_3GPP, AppId

S6A = int(AppId.S6A)
VENDOR = VENDOR_3GPP


class S6aResult(IntEnum):
    """Experimental-Result-Code values (vendor 10415) an HSS sends on S6a/S6d."""

    AUTHENTICATION_DATA_UNAVAILABLE = 4181  # §7.4.4.1, transient
    USER_UNKNOWN = 5001  # TS 29.229 / 29.272 §7.4.3.1
    ROAMING_NOT_ALLOWED = 5004  # §7.4.3.3
    UNKNOWN_EPS_SUBSCRIPTION = 5420  # §7.4.3.4
    RAT_NOT_ALLOWED = 5421  # §7.4.3.5
    EQUIPMENT_UNKNOWN = 5422  # §7.4.3.6
    UNKNOWN_SERVING_NODE = 5423  # §7.4.3.7: a NOR from a node that is not the registered one


class Command(IntEnum):
    ULR = 316
    CLR = 317
    AIR = 318
    IDR = 319
    DSR = 320
    PUR = 321
    RSR = 322
    NOR = 323


class UlrFlags(IntFlag):
    """ULR-Flags (§7.3.7)."""

    SINGLE_REGISTRATION = 1 << 0
    S6A_S6D_INDICATOR = 1 << 1  # set: the request comes from an MME (S6a); clear: from an SGSN (S6d)
    SKIP_SUBSCRIBER_DATA = 1 << 2
    GPRS_SUBSCRIPTION_DATA = 1 << 3
    NODE_TYPE = 1 << 4
    INITIAL_ATTACH = 1 << 5
    PS_LCS_NOT_SUPPORTED = 1 << 6
    SMS_ONLY = 1 << 7


class UlaFlags(IntFlag):
    """ULA-Flags (§7.3.8)."""

    SEPARATION_INDICATION = 1 << 0  # MME and SGSN registrations are stored separately (true here)
    MME_REGISTERED_FOR_SMS = 1 << 1


class PurFlags(IntFlag):
    """PUR-Flags (§7.3.149)."""

    UE_PURGED_IN_MME = 1 << 0
    UE_PURGED_IN_SGSN = 1 << 1


class PuaFlags(IntFlag):
    """PUA-Flags (§7.3.48)."""

    FREEZE_M_TMSI = 1 << 0
    FREEZE_P_TMSI = 1 << 1


class ClrFlags(IntFlag):
    """CLR-Flags (§7.3.152)."""

    S6A_S6D_INDICATOR = 1 << 0
    REATTACH_REQUIRED = 1 << 1


class DsrFlags(IntFlag):
    """DSR-Flags (§7.3.25), the bits we use."""

    COMPLETE_APN_CONFIGURATION_PROFILE_WITHDRAWAL = 1 << 1
    PDN_SUBSCRIPTION_CONTEXTS_WITHDRAWAL = 1 << 3
    SUBSCRIBED_PERIODIC_RAU_TAU_TIMER_WITHDRAWAL = 1 << 14


class CancellationType(IntEnum):
    """Cancellation-Type (§7.3.24)."""

    MME_UPDATE_PROCEDURE = 0
    SGSN_UPDATE_PROCEDURE = 1
    SUBSCRIPTION_WITHDRAWAL = 2
    UPDATE_PROCEDURE_IWF = 3
    INITIAL_ATTACH_PROCEDURE = 4


class AccessRestriction(IntFlag):
    """Access-Restriction-Data (§7.3.31), the RAT bits."""

    UTRAN_NOT_ALLOWED = 1 << 0
    GERAN_NOT_ALLOWED = 1 << 1
    GAN_NOT_ALLOWED = 1 << 2
    I_HSPA_EVOLUTION_NOT_ALLOWED = 1 << 3
    WB_E_UTRAN_NOT_ALLOWED = 1 << 4
    HO_TO_NON_3GPP_NOT_ALLOWED = 1 << 5
    NB_IOT_NOT_ALLOWED = 1 << 6


# RAT-Type (TS 29.212 §5.3.31) -> the Access-Restriction-Data bit that forbids it.
RAT_RESTRICTION = {
    1000: AccessRestriction.UTRAN_NOT_ALLOWED,
    1001: AccessRestriction.GERAN_NOT_ALLOWED,
    1002: AccessRestriction.GAN_NOT_ALLOWED,
    1003: AccessRestriction.I_HSPA_EVOLUTION_NOT_ALLOWED,
    1004: AccessRestriction.WB_E_UTRAN_NOT_ALLOWED,
    1005: AccessRestriction.NB_IOT_NOT_ALLOWED,
}
