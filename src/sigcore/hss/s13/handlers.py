"""S13/S13' (TS 29.272 §6 and §7.2.19-20): the MME or SGSN asks the EIR about a mobile equipment.

ME-Identity-Check-Request (ECR, command 324) carries Terminal-Information (IMEI and Software-Version, or
a 3GPP2-MEID) and, optionally, the subscriber's IMSI in User-Name. The answer (ECA) is DIAMETER_SUCCESS
with Equipment-Status WHITELISTED/BLACKLISTED/GREYLISTED, or the Experimental-Result
DIAMETER_ERROR_EQUIPMENT_UNKNOWN (5422) when no rule and no default status applies. Which rule decides is
`sigcore.hss.s13.eir`; every check with an IMEI is recorded in the history.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import SQLAlchemyError

from sigcore.diameter import DICTIONARY
from sigcore.diameter.aio import RequestContext
from sigcore.diameter.answers import Identity
from sigcore.diameter.application import Application, Rejected, answer, experimental_3gpp
from sigcore.diameter.constants import AppId, ResultCode
from sigcore.diameter.message import Message
from sigcore.hss.application import AUTH_SESSION_STATE, hss_application
from sigcore.hss.s6a.codes import S6aResult
from sigcore.hss.s13.eir import Eir, InvalidImei, normalise_imei
from sigcore.store import StoreError, validate
from sigcore.store.errors import InvalidValue

log = logging.getLogger("sigcore.hss.s13.handlers")

S13 = int(AppId.S13)
ECR = 324


class S13Server:
    """The EIR's S13 application: `ecr` handles ME-Identity-Check-Request (``application()``)."""

    def __init__(self, eir: Eir, identity: Identity) -> None:
        self.eir = eir
        self.identity = identity

    def application(self) -> Application:
        """S13/S13' with its one handler, for ``install(node)``."""
        app = hss_application(S13, "S13", vendor_specific_id=False)
        app.add("ECR", self.ecr)
        return app

    async def ecr(self, request: Message, _ctx: RequestContext | None = None) -> Message:
        terminal = request["Terminal-Information"]
        raw_imei = terminal.get("IMEI")
        if raw_imei is None:
            # A 3GPP2-MEID only: this EIR keeps IMEI rules, so the equipment is unknown to it.
            raise experimental_3gpp(S6aResult.EQUIPMENT_UNKNOWN)
        try:
            imei, sv_in_imei = normalise_imei(raw_imei, strict_check_digit=False)
        except InvalidImei as err:
            bad = DICTIONARY.build("Terminal-Information", [("IMEI", raw_imei)])
            raise Rejected(ResultCode.INVALID_AVP_VALUE, f"IMEI: {err}", failed_avps=[bad]) from None
        software_version = terminal.get("Software-Version") or sv_in_imei
        if software_version is not None and not (len(software_version) == 2 and software_version.isdigit()):
            bad = DICTIONARY.build("Terminal-Information", [("Software-Version", software_version)])
            raise Rejected(ResultCode.INVALID_AVP_VALUE, "Software-Version: expected 2 digits", failed_avps=[bad])
        imsi = request.get("User-Name")
        if imsi is not None:  # else it binds no rule, and the history keeps it in 15 digits
            try:
                validate.imsi(imsi)
            except InvalidValue:
                raise Rejected(ResultCode.INVALID_AVP_VALUE, "User-Name: expected an IMSI (6 to 15 digits)",
                               failed_avps=[DICTIONARY.build("User-Name", imsi)]) from None
        origin = request.get("Origin-Host")
        loop = asyncio.get_running_loop()
        try:
            decision = await loop.run_in_executor(None, lambda: self.eir.check(
                imei, imsi=imsi, software_version=software_version, origin_host=origin))
        except (StoreError, SQLAlchemyError):
            log.exception("EIR check of %s failed", imei)
            raise Rejected(ResultCode.UNABLE_TO_COMPLY) from None
        if decision.status is None:
            raise experimental_3gpp(S6aResult.EQUIPMENT_UNKNOWN)
        status = DICTIONARY.build("Equipment-Status", decision.status.code)
        return answer(request, self.identity, ResultCode.SUCCESS, [status, AUTH_SESSION_STATE])
