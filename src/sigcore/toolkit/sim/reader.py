"""Read identity files from a UICC: ICCID from the MF, then IMSI and MNC length from the USIM application.

Each step's failure is recorded with the card's explained status word instead of aborting, so a card
without a USIM still shows its ICCID.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sigcore.toolkit import plmn
from sigcore.toolkit.sim import files
from sigcore.toolkit.sim.apdu import ApduError, Card, CardIOError

_MAX_READ = 255  # short APDU: read larger files in slices


@dataclass
class SimReport:
    iccid: files.Iccid | None = None
    applications: list[files.Application] = field(default_factory=list)
    imsi: str | None = None
    mnc_length: int | None = None
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def usim(self) -> files.Application | None:
        return next((app for app in self.applications if app.is_usim), None)

    @property
    def imsi_parts(self) -> plmn.ImsiParts | None:
        if self.imsi is None or self.mnc_length is None:
            return None
        return plmn.split_imsi(self.imsi, self.mnc_length)


def read_transparent(card: Card, fid: int, name: str) -> bytes:
    """SELECT an EF in the current DF and READ BINARY all of it (size from the FCP, else let the card say)."""
    info = files.parse_fcp(card.select_fid(fid, name))
    if info.size is None:
        return card.read_binary(0, name)
    data = b""
    while len(data) < info.size:
        data += card.read_binary(min(_MAX_READ, info.size - len(data)), name, offset=len(data))
    return data


def read_records(card: Card, fid: int, name: str) -> list[bytes]:
    """SELECT a linear fixed EF and read its records until the FCP's count or 6A83 (record not found)."""
    info = files.parse_fcp(card.select_fid(fid, name))
    records: list[bytes] = []
    for number in range(1, (info.record_count or 254) + 1):
        try:
            records.append(card.read_record(number, info.record_length or 0, name))
        except ApduError as err:
            if (err.sw1, err.sw2) == (0x6A, 0x83) and records:
                break
            raise
    return records


def read_path(card: Card, path: list[int]) -> bytes:
    """Read any transparent EF given its path from the MF, e.g. ``[0x3F00, 0x2FE2]``."""
    for fid in path[:-1]:
        card.select_fid(fid, "DF")
    return read_transparent(card, path[-1], "EF")


def read_sim(card: Card) -> SimReport:
    report = SimReport()
    _step(report, "ICCID", lambda: _read_iccid(card, report))
    _step(report, "EF_DIR", lambda: _read_dir(card, report))
    if report.usim is None:
        report.errors.setdefault("USIM", "no USIM application listed in EF_DIR")
        return report
    usim = report.usim
    _step(report, "USIM", lambda: card.select_aid(usim.aid, "ADF USIM"))
    if "USIM" in report.errors:
        return report
    _step(report, "IMSI", lambda: _read_imsi(card, report))
    _step(report, "MNC length", lambda: _read_ad(card, report))
    return report


def _step(report: SimReport, name: str, action: Callable[[], object]) -> None:
    try:
        action()
    except (ApduError, CardIOError, ValueError) as err:
        report.errors[name] = str(err)


def _read_iccid(card: Card, report: SimReport) -> None:
    card.select_fid(files.FID_MF, "MF")
    report.iccid = files.decode_iccid(read_transparent(card, files.FID_EF_ICCID, "EF_ICCID"))


def _read_dir(card: Card, report: SimReport) -> None:
    card.select_fid(files.FID_MF, "MF")
    for record in read_records(card, files.FID_EF_DIR, "EF_DIR"):
        app = files.decode_dir_record(record)
        if app is not None:
            report.applications.append(app)


def _read_imsi(card: Card, report: SimReport) -> None:
    report.imsi = files.decode_imsi(read_transparent(card, files.FID_EF_IMSI, "EF_IMSI"))


def _read_ad(card: Card, report: SimReport) -> None:
    report.mnc_length = files.decode_mnc_length(read_transparent(card, files.FID_EF_AD, "EF_AD"))
    if report.mnc_length is None:
        raise ValueError("EF_AD does not state the MNC length")
