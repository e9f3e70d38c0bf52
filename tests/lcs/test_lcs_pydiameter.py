"""SLh and S13 answered by a real sigcore node over TCP to python-diameter, an independent client.

Known, unknown and barred cases for both interfaces; the last test records the exchange with tshark and
requires a clean capture (no malformed packet, no Diameter expert warning).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from diameter.message import constants as pc

from interop.pydiameter_peer import quiet_python_diameter_logs
from interop.tshark import _run_tshark, check_pcap, diameter_messages
from sigcore.store import Store
from sigcore.store.eir import EirRepository, EquipmentStatus
from sigcore.toolkit import tbcd

from .conftest import (
    IMEI_PAIRED,
    IMEI_UNKNOWN,
    IMEI_WHITE,
    IMSI,
    IMSI_DETACHED,
    IMSI_OTHER,
    IMSI_PURGED,
    IMSI_SGSN,
    MME,
    MSISDN,
    MSISDN_OTHER,
    SGSN,
)
from .harness import (
    APP_S13,
    APP_SLH,
    AVP_ADDITIONAL_SERVING_NODE,
    AVP_LCS_CAPABILITIES_SETS,
    AVP_MME_NAME,
    AVP_MME_REALM,
    AVP_MSISDN,
    AVP_SERVING_NODE,
    AVP_SGSN_NAME,
    VENDOR_3GPP,
    LcsNode,
    avp_values,
    client,
    ecr,
    experimental_result,
    result_code,
    rir,
)

pytestmark = [pytest.mark.interop]
V = VENDOR_3GPP
WHITELISTED, BLACKLISTED, GREYLISTED = 0, 1, 2


@pytest.fixture(autouse=True)
def _quiet() -> None:
    quiet_python_diameter_logs()


def test_slh_known_unknown_absent_and_unauthorised(store: Store) -> None:
    with LcsNode(store, allowed_gmlcs=("partner.example",)) as node:
        with client("gmlc.localdomain", APP_SLH, node.port) as gmlc:
            gmlc.wait_ready()
            by_imsi = rir(gmlc, imsi=IMSI)
            assert result_code(by_imsi) == 2001
            assert avp_values(by_imsi, (AVP_SERVING_NODE, V), (AVP_MME_NAME, V)) == [MME.encode()]
            assert avp_values(by_imsi, (AVP_SERVING_NODE, V), (AVP_MME_REALM, V)) == [b"localdomain"]
            assert avp_values(by_imsi, (AVP_MSISDN, V)) == [tbcd.encode(MSISDN)]
            # an MME gets no LCS-Capabilities-Sets (TS 29.173 §5.2.1.2)
            assert avp_values(by_imsi, (AVP_SERVING_NODE, V), (AVP_LCS_CAPABILITIES_SETS, V)) == []

            by_msisdn = rir(gmlc, msisdn=tbcd.encode(MSISDN))
            assert result_code(by_msisdn) == 2001
            assert avp_values(by_msisdn, (pc.AVP_USER_NAME, 0)) == [IMSI]

            both = rir(gmlc, imsi=IMSI_SGSN)
            assert avp_values(both, (AVP_SERVING_NODE, V), (AVP_MME_NAME, V)) == [MME.encode()]
            assert avp_values(both, (AVP_ADDITIONAL_SERVING_NODE, V), (AVP_SGSN_NAME, V)) == [SGSN.encode()]
            assert avp_values(both, (AVP_ADDITIONAL_SERVING_NODE, V), (AVP_LCS_CAPABILITIES_SETS, V)) == [16]

            unknown = rir(gmlc, imsi="001019999999999")
            assert (result_code(unknown), experimental_result(unknown)) == (None, 5001)
            assert experimental_result(rir(gmlc, msisdn=tbcd.encode("15559999999"))) == 5001
            assert experimental_result(rir(gmlc, imsi=IMSI_DETACHED)) == 4201
            assert experimental_result(rir(gmlc, imsi=IMSI_PURGED)) == 4201
            assert result_code(rir(gmlc, imsi=IMSI, msisdn=tbcd.encode(MSISDN_OTHER))) == 5007

        with client("gmlc.evil.example", APP_SLH, node.port, realm="evil.example") as outsider:
            outsider.wait_ready()
            refused = rir(outsider, imsi=IMSI)
            assert experimental_result(refused) == 5490
            assert avp_values(refused, (AVP_SERVING_NODE, V)) == []  # nothing leaks
            assert experimental_result(rir(outsider, imsi="001019999999999")) == 5490  # no user probing

        with client("gmlc.partner.example", APP_SLH, node.port, realm="partner.example") as partner:
            partner.wait_ready()
            assert result_code(rir(partner, imsi=IMSI)) == 2001


def test_s13_white_black_grey_unknown_and_history(store: Store) -> None:
    with LcsNode(store) as node, client(MME, APP_S13, node.port) as mme:
        mme.wait_ready()
        cleared = ecr(mme, IMEI_WHITE, imsi=IMSI)  # exact IMEI beats its blacklisted TAC
        assert (result_code(cleared), cleared.equipment_status) == (2001, WHITELISTED)
        stolen = ecr(mme, "35209900000001", software_version="07")
        assert (result_code(stolen), stolen.equipment_status) == (2001, BLACKLISTED)
        paired = ecr(mme, IMEI_PAIRED, imsi=IMSI)
        assert paired.equipment_status == GREYLISTED
        for unknown in (ecr(mme, IMEI_PAIRED, imsi=IMSI_OTHER), ecr(mme, IMEI_PAIRED), ecr(mme, IMEI_UNKNOWN)):
            assert (result_code(unknown), experimental_result(unknown)) == (None, 5422)
            assert unknown.equipment_status is None

    checks, total = EirRepository(store).history()
    assert total == 6
    newest = checks[0]
    assert (newest.imei, newest.status, newest.origin_host) == (IMEI_UNKNOWN, None, MME)
    stolen_check = next(c for c in checks if c.imei == "35209900000001")
    assert (stolen_check.status, stolen_check.software_version) == (EquipmentStatus.BLACKLISTED, "07")


def test_s13_unknown_equipment_default_status(store: Store) -> None:
    with LcsNode(store, unknown_equipment=EquipmentStatus.GREYLISTED) as node, \
            client(MME, APP_S13, node.port) as mme:
        mme.wait_ready()
        answer = ecr(mme, IMEI_UNKNOWN)
        assert (result_code(answer), answer.equipment_status) == (2001, GREYLISTED)


@pytest.mark.slow
def test_tshark_sees_clean_slh_and_s13(tshark_capture, store: Store) -> None:  # type: ignore[no-untyped-def]
    with LcsNode(store) as node:
        capture = tshark_capture([node.port])
        with client("gmlc.localdomain", APP_SLH, node.port) as gmlc:
            gmlc.wait_ready()
            assert result_code(rir(gmlc, imsi=IMSI_SGSN)) == 2001
            assert experimental_result(rir(gmlc, imsi="001019999999999")) == 5001
        with client(MME, APP_S13, node.port) as mme:
            mme.wait_ready()
            assert ecr(mme, IMEI_WHITE).equipment_status == WHITELISTED
            assert experimental_result(ecr(mme, IMEI_UNKNOWN)) == 5422
        capture.stop()
    assert check_pcap(capture.pcap_path, [node.port]) == []
    pdus = diameter_messages(capture.pcap_path, [node.port])
    labels = [p.label for p in pdus]
    assert labels.count("8388622R") == 2 and labels.count("8388622A") == 2
    assert labels.count("324R") == 2 and labels.count("324A") == 2
    # Grouped AVP children (Experimental-Result-Code, MME-Name) are not in DiameterPdu.avps: read the
    # fields as Wireshark decoded them instead.
    assert answer_fields(capture.pcap_path, node.port, 8388622) == [
        ("2001", "", "mme1.localdomain", "sgsn1.localdomain"), ("", "5001", "", "")]
    assert answer_fields(capture.pcap_path, node.port, 324) == [("2001", "", "", ""), ("", "5422", "", "")]


def answer_fields(pcap: Path, port: int, command: int) -> list[tuple[str, ...]]:
    """Result-Code, Experimental-Result-Code, MME-Name, SGSN-Name of each answer `command`, per tshark."""
    fields = ("diameter.Result-Code", "diameter.Experimental-Result-Code", "diameter.MME-Name", "diameter.SGSN-Name")
    out = _run_tshark(pcap, [port], ["-Y", f"diameter.cmd.code == {command} && diameter.flags.request == 0",
                                     "-T", "fields", *(arg for f in fields for arg in ("-e", f))])
    return [tuple(line.split("\t")) for line in out.splitlines() if line.strip()]
