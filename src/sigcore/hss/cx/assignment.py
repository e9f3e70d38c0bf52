"""Registration state per IMPU and S-CSCF assignment: the decisions of TS 29.228 §6.1 and §6.3.

Pure functions over the stored state: the Cx handlers read the implicit set, ask here what to answer
and what to write, then write it. Keeping this free of I/O makes every Server-Assignment-Type testable
in isolation.
"""

from __future__ import annotations

from dataclasses import dataclass

from sigcore.hss.ims.codes import AssignmentType as Sat
from sigcore.hss.ims.codes import AuthorizationType, CxResult
from sigcore.store.ims import PublicIdentity, RegState

_DEREGISTRATIONS = {Sat.TIMEOUT_DEREGISTRATION, Sat.USER_DEREGISTRATION, Sat.ADMINISTRATIVE_DEREGISTRATION,
                    Sat.DEREGISTRATION_TOO_MUCH_DATA}
_DEREGISTRATIONS_KEEPING_NAME = {Sat.TIMEOUT_DEREGISTRATION_STORE_SERVER_NAME,
                                 Sat.USER_DEREGISTRATION_STORE_SERVER_NAME}


@dataclass(frozen=True, slots=True)
class UarDecision:
    """What a UAA carries: an Experimental-Result code (or base 5003 when ``rejected``) and where to go."""

    result: CxResult | None
    server_name: str | None = None
    capabilities: bool = False  # send Server-Capabilities (the I-CSCF chooses the S-CSCF)
    rejected: bool = False  # DIAMETER_AUTHORIZATION_REJECTED (base Result-Code 5003)


def authorize(identities: list[PublicIdentity], auth_type: int, roaming_ok: bool) -> UarDecision:
    """TS 29.228 §6.1.1.1, for the implicit set of the requested IMPU (itself first)."""
    impu = identities[0]
    if auth_type != AuthorizationType.DE_REGISTRATION:
        if all(i.barred for i in identities):
            return UarDecision(None, rejected=True)
        if not roaming_ok:
            return UarDecision(CxResult.ROAMING_NOT_ALLOWED)
    if auth_type == AuthorizationType.REGISTRATION_AND_CAPABILITIES:
        return UarDecision(CxResult.FIRST_REGISTRATION, capabilities=True)
    state = impu.reg_state
    if auth_type == AuthorizationType.DE_REGISTRATION:
        if state in (RegState.REGISTERED, RegState.UNREGISTERED) and impu.scscf_name:
            return UarDecision(CxResult.FIRST_REGISTRATION, server_name=impu.scscf_name)
        return UarDecision(CxResult.IDENTITY_NOT_REGISTERED)
    if state == RegState.REGISTERED and impu.scscf_name:
        return UarDecision(CxResult.SUBSEQUENT_REGISTRATION, server_name=impu.scscf_name)
    if state == RegState.UNREGISTERED and impu.scscf_name:
        return UarDecision(CxResult.UNREGISTERED_SERVICE, server_name=impu.scscf_name)
    if impu.scscf_name:  # not registered, but a name kept (…_STORE_SERVER_NAME) or assigned during MAR
        return UarDecision(CxResult.FIRST_REGISTRATION, server_name=impu.scscf_name)
    return UarDecision(CxResult.FIRST_REGISTRATION, capabilities=True)


@dataclass(frozen=True, slots=True)
class SarDecision:
    """What to write for the implicit set and what the SAA carries."""

    new_state: RegState | None  # None: leave the stored state alone
    keep_server: bool  # store the requesting S-CSCF (True) or clear it (False); ignored when new_state is None
    send_user_data: bool
    error: CxResult | None = None
    unable_to_comply: bool = False  # base Result-Code 5012
    result_code_override: CxResult | None = None  # e.g. 2004 SERVER_NAME_NOT_STORED


def server_assignment(sat: int, impu: PublicIdentity, requesting_scscf: str, has_unregistered_services: bool,
                      user_data_available: bool) -> SarDecision:
    """TS 29.228 §6.1.2.1 for one Server-Assignment-Type, given the IMPU's stored state."""
    stored = impu.scscf_name
    same_server = stored is not None and stored == requesting_scscf
    wants_data = not (user_data_available and same_server)
    if sat == Sat.NO_ASSIGNMENT:
        if not same_server:
            return SarDecision(None, True, False, unable_to_comply=True)
        return SarDecision(None, True, True)
    if sat in (Sat.REGISTRATION, Sat.RE_REGISTRATION):
        return SarDecision(RegState.REGISTERED, True, wants_data)
    if sat == Sat.UNREGISTERED_USER:
        if impu.reg_state == RegState.REGISTERED and not same_server:
            return SarDecision(None, True, False, error=CxResult.IDENTITY_ALREADY_REGISTERED)
        return SarDecision(RegState.UNREGISTERED, True, wants_data)
    if sat in _DEREGISTRATIONS:
        if has_unregistered_services:
            return SarDecision(RegState.UNREGISTERED, True, False)
        return SarDecision(RegState.NOT_REGISTERED, False, False)
    if sat in _DEREGISTRATIONS_KEEPING_NAME:
        return SarDecision(RegState.NOT_REGISTERED, True, False)
    if sat in (Sat.AUTHENTICATION_FAILURE, Sat.AUTHENTICATION_TIMEOUT):
        if impu.reg_state == RegState.REGISTERED:
            return SarDecision(None, True, False)
        return SarDecision(RegState.NOT_REGISTERED, False, False)
    return SarDecision(None, True, False, error=CxResult.IN_ASSIGNMENT_TYPE)


@dataclass(frozen=True, slots=True)
class LirDecision:
    result: CxResult | None  # None: plain 2001 DIAMETER_SUCCESS
    server_name: str | None = None
    capabilities: bool = False


def locate(impu: PublicIdentity, has_unregistered_services: bool) -> LirDecision:
    """TS 29.228 §6.1.4.1: where to route a request to ``impu``."""
    if impu.reg_state in (RegState.REGISTERED, RegState.UNREGISTERED) and impu.scscf_name:
        return LirDecision(None, server_name=impu.scscf_name)
    if has_unregistered_services or impu.identity_type != 0:
        if impu.scscf_name:
            return LirDecision(None, server_name=impu.scscf_name)
        return LirDecision(CxResult.UNREGISTERED_SERVICE, capabilities=True)
    return LirDecision(CxResult.IDENTITY_NOT_REGISTERED)
