"""The console in a real headless Chromium: sign in, search 100k subscribers, change an APN's AMBR (an IDR
reaches a python-diameter MME), create with a bad IMSI, import a CSV, watch a peer go down; read-only role.

One browser and one HSS (with the API and the console on its loop, as in `sigcore run`) for the module.
Screenshots of every page land in ``var/artefacts/console/``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from browser import Browser

from sigcore.api import create_app
from sigcore.api.service import ApiServer
from sigcore.applications import Services
from sigcore.metrics.diameter import NodeMetrics
from sigcore.metrics.http import OpsEndpoint
from sigcore.metrics.registry import Registry
from sigcore.store import Store, migrate
from sigcore.store.bulk import BulkImporter, NewSubscriber
from sigcore.store.eir import EquipmentStatus
from sigcore.store.eir_admin import EirAdmin
from sigcore.store.ims_admin import ImsAdmin
from sigcore.store.tokens import Role, TokenRepository
from support.s6a import IMSI, OPC, HssThread, K, air, mme, new_kek, ulr

pytestmark = [pytest.mark.interop, pytest.mark.slow]
BULK = 100_000
BULK_KI, BULK_OPC = bytes.fromhex("7E1A" * 8), bytes.fromhex("C0DE" * 8)
NEW_KI, NEW_OPC = "5A17E3B9C04D6F2188A9B7C6D5E4F3A2", "9F8E7D6C5B4A39281706F5E4D3C2B1A0"
SECRETS = tuple(k for key in (K.hex(), OPC.hex(), BULK_KI.hex(), BULK_OPC.hex(), NEW_KI, NEW_OPC)
                for k in (key.lower(), key.upper()))


def bulk_msisdn(i: int) -> str:
    return f"4670{i:07d}"


def load_bulk(store: Store, count: int) -> None:
    """`count` subscribers through the store's bulk path (one transaction per 5000 rows)."""
    importer = BulkImporter(store)
    for start in range(0, count, 5000):
        importer.add([NewSubscriber(line=i, imsi=f"00103{i:010d}", ki=BULK_KI, opc=BULK_OPC, msisdn=bulk_msisdn(i),
                                    apns=("bulk",)) for i in range(start, min(start + 5000, count))])
    assert importer.result.imported == count


def seed_ims_and_eir(store: Store) -> None:
    """Something on the IMS and EIR pages (their screenshots), stored as the Cx and S13 code would."""
    ImsAdmin(store).add_private_identity("alice@ims.localdomain", ["sip:alice@ims.localdomain", "tel:+15550100001"],
                                         imsi=IMSI, profile="default", scscf="sip:scscf.ims.localdomain")
    eir = EirAdmin(store)
    rule = eir.add_rule("35209900", EquipmentStatus.GREYLISTED, exact=False, comment="trial handsets")
    eir.add_rule("49015420323751", EquipmentStatus.BLACKLISTED, exact=True, comment="reported stolen")
    eir.record_check("35209900176148", software_version="01", imsi=IMSI, status=EquipmentStatus.GREYLISTED,
                     rule_id=rule.id, origin_host="mme1.localdomain")


@dataclass
class Stack:
    hss: HssThread
    store: Store
    browser: Browser
    tokens: dict[Role, str]
    tmp: Path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("console")
    url = f"sqlite:///{tmp / 'hss.sqlite'}"
    migrate(url)
    with Store(url, new_kek()) as store:
        load_bulk(store, BULK)
        store.add_subscriber(IMSI, ki=K, opc=OPC, msisdn="15550100001", apns=["internet"])
        seed_ims_and_eir(store)
        tokens = {role: TokenRepository(store).create(role, f"console-{role.value}").secret for role in Role}
        with HssThread(store) as hss:
            registry = Registry()
            NodeMetrics(registry).attach(hss.node)
            services = Services(notifier=hss.hss.notifier, node=hss.node, metrics=OpsEndpoint(registry, node=hss.node))
            api = ApiServer(create_app(store, services), "127.0.0.1", 0)
            hss.run(api.start())
            browser = Browser(api.url, tmp / "chromium-profile")
            try:
                yield Stack(hss, store, browser, tokens, tmp)
            finally:
                browser.quit()
                hss.run(api.stop())


def test_sign_in_and_find_a_subscriber_among_100k_by_msisdn_prefix(stack: Stack) -> None:
    b = stack.browser
    b.driver.delete_all_cookies()
    b.visit("/console/subscribers")
    assert "/console/login" in b.driver.current_url  # no session: the sign-in page
    b.snap("login")
    b.login(stack.tokens[Role.ADMIN])
    b.fill({"q": "467000424"})
    b.find('form.search button[type="submit"]').click()
    b.wait(lambda: "q=467000424" in b.driver.current_url)
    b.snap("search")
    rows = b.find_all("#results tbody tr")
    assert len(rows) == 25
    msisdns = [r.find_elements("css selector", "td")[1].text for r in rows]
    assert msisdns == [bulk_msisdn(42400 + i) for i in range(25)]
    b.find("#next-page").click()
    b.wait(lambda: "after=" in b.driver.current_url)
    second = [r.find_elements("css selector", "td")[1].text for r in b.find_all("#results tbody tr")]
    assert second == [bulk_msisdn(42425 + i) for i in range(25)]
    b.find_all("#results tbody tr a")[3].click()
    b.wait(lambda: b.driver.current_url.endswith(f"/console/subscribers/00103{42428:010d}"))
    assert b.text("#msisdn") == bulk_msisdn(42428)
    b.snap("subscriber")
    b.driver.set_window_size(390, 844)  # a phone
    b.visit(f"/console/subscribers/00103{42428:010d}", "subscriber-phone")
    b.visit("/console/subscribers?q=4670004&by=msisdn", "search-phone")
    b.driver.set_window_size(1280, 1000)


def test_apn_ambr_change_reaches_the_mme_as_an_idr(stack: Stack) -> None:
    b = stack.browser
    b.login(stack.tokens[Role.PROVISION])
    with mme("mme1.localdomain", stack.hss.port) as mme1:
        mme1.wait_ready()
        assert air(mme1).result_code == 2001
        assert ulr(mme1).result_code == 2001
        b.visit(f"/console/subscribers/{IMSI}")
        assert "mme1.localdomain" in b.text("#serving-mme")
        b.snap("subscriber-served")
        b.find('#apn-table a[href$="/apns/internet"]').click()
        b.wait(lambda: b.driver.current_url.endswith("/console/apns/internet"))
        b.fill({"ambr_ul": "2000000", "ambr_dl": "9000000"})
        b.find('#apn-form button[type="submit"]').click()
        b.wait(lambda: "done=saved" in b.driver.current_url)
        assert b.text("#apn-ambr") == "2 Mbit/s up, 9 Mbit/s down"
        b.snap("apn-saved")
        idr = mme1.next_request(timeout=10)
        assert idr.header.command_code == 319 and idr.user_name == IMSI
        apn = idr.subscription_data.apn_configuration_profile.apn_configuration[0]
        assert apn.service_selection == "internet"
        assert (apn.ambr.max_requested_bandwidth_ul, apn.ambr.max_requested_bandwidth_dl) == (2_000_000, 9_000_000)
        b.visit("/console/traffic")
        b.wait(lambda: len(b.find_all("#rate-chart polyline")) >= 2, timeout=10)  # AIR and ULR series
        for _ in range(30):  # traffic while the page watches: the chart's AIR line must rise
            assert air(mme1).result_code == 2001
            time.sleep(0.1)
        b.wait(lambda: float(b.find('tr[data-command="16777251:318"] [data-rate]').text or 0) > 0, timeout=10)
        air_line = '#rate-chart polyline[stroke="#b3261e"]'  # AIR is the second series (ULR first, by code)
        b.wait(lambda: len((b.find(air_line).get_attribute("points") or "").split()) >= 2, timeout=10)
        b.snap("traffic")


def test_create_with_a_bad_imsi_shows_the_error_at_the_field(stack: Stack) -> None:
    b = stack.browser
    b.login(stack.tokens[Role.PROVISION])
    b.visit("/console/subscribers/new")
    b.fill({"imsi": "00101x", "msisdn": "15550199999", "ki": NEW_KI, "operator_key": NEW_OPC, "apns": "internet"})
    b.find('#create-form button[type="submit"]').click()
    b.wait(lambda: b.find_all("#imsi-error"))
    assert b.text("#imsi-error") == "an IMSI is 6 to 15 digits"
    assert b.find("#f-imsi").get_attribute("aria-invalid") == "true"
    b.wait(lambda: b.driver.switch_to.active_element.get_attribute("id") == "f-imsi")  # focus on the field in error
    assert b.find("#f-ki").get_attribute("value") == ""  # keys are never sent back, not even to re-fill
    assert b.find("#f-msisdn").get_attribute("value") == "15550199999"
    b.snap("create-bad-imsi")
    b.fill({"imsi": "001019999999999", "ki": NEW_KI, "operator_key": NEW_OPC})
    b.find('#create-form button[type="submit"]').click()
    b.wait(lambda: "done=created" in b.driver.current_url)
    assert b.text("#msisdn") == "15550199999"
    assert stack.store.get_subscriber("001019999999999").msisdn == "15550199999"
    b.snap("created")


def test_csv_import_with_progress_and_rejected_rows(stack: Stack) -> None:
    b = stack.browser
    b.login(stack.tokens[Role.PROVISION])
    path = stack.tmp / "batch.csv"
    rows = [f"00102{i:010d},{NEW_KI},{NEW_OPC},4680{i:07d},internet" for i in range(2500)]
    rows.insert(1200, f"12ab,{NEW_KI},{NEW_OPC},,")  # line 1202: bad IMSI
    rows.insert(2000, f"00103{7:010d},{NEW_KI},{NEW_OPC},,")  # line 2002: already provisioned
    path.write_text("imsi,ki,opc,msisdn,apns\n" + "\n".join(rows) + "\n")
    b.visit("/console/import", "import")
    b.find("#f-file").send_keys(str(path))
    b.find('#import-form button[type="submit"]').click()
    b.wait(lambda: b.find("#import-result").is_displayed(), timeout=60)
    assert b.text("#import-summary") == "Imported 2500 of 2502 rows; 2 rejected."
    bar = b.find("#import-bar")
    assert bar.get_attribute("value") == bar.get_attribute("max") == "2502"
    table = b.find_all("#import-rejected tbody tr")
    rejected = [[c.text for c in r.find_elements("css selector", "td")] for r in table]
    assert [r[0] for r in rejected] == ["1202", "2002"]
    assert "imsi" in rejected[0][2] and rejected[1][1] == f"00103{7:010d}"
    b.snap("import-done")
    assert stack.store.get_subscriber(f"00102{2499:010d}").msisdn == f"4680{2499:07d}"


def test_a_peer_goes_down_when_its_mme_disconnects(stack: Stack) -> None:
    b = stack.browser
    b.login(stack.tokens[Role.READ])
    with mme("mme2.localdomain", stack.hss.port) as mme2:
        mme2.wait_ready()
        b.visit("/console/peers")
        row = 'tr[data-peer="mme2.localdomain"] [data-state]'
        b.wait(lambda: b.find_all(row) and "badge good" in b.find(row).get_attribute("class"))
        b.snap("peers-up")

    def down() -> bool:  # read from one rendering of the row: the page refreshes itself
        state = b.find(row)
        return "badge bad" in state.get_attribute("class") and state.text == "Closed"

    b.wait(down, timeout=20)
    lost = b.wait(lambda: b.find('tr[data-peer="mme2.localdomain"] td:nth-child(7)').text)
    assert int(lost) >= 1
    b.snap("peers-down")


def test_read_only_role_sees_no_edit_controls_and_the_api_refuses_it(stack: Stack) -> None:
    b = stack.browser
    b.login(stack.tokens[Role.READ])
    for path, name in ((f"/console/subscribers/{IMSI}", "read-subscriber"), ("/console/subscribers", "read-search"),
                       ("/console/apns/internet", "read-apn"), ("/console/apns", "read-apns"),
                       ("/console/eir", "read-eir"), ("/console/ims", "read-ims"), ("/console/import", "read-import")):
        b.visit(path, name)
        posting = [f.get_attribute("action") for f in b.find_all('form[method="post"]')]
        assert all(action.endswith("/console/logout") for action in posting), (path, posting)
        assert not b.find_all('a[href$="/subscribers/new"]')
    b.visit(f"/console/subscribers/{IMSI}")
    csrf = b.find('form[action$="/logout"] input[name="csrf"]').get_attribute("value")
    status, text = b.driver.execute_async_script(
        """const done = arguments[arguments.length - 1];
        fetch(arguments[0], {method: "POST", body: new URLSearchParams({csrf: arguments[1], msisdn: "1", status:
        "service_granted"})}).then(async (r) => done([r.status, await r.text()]));""",
        f"/console/subscribers/{IMSI}", csrf)
    assert status == 403 and "role provision" in text
    assert stack.store.get_subscriber(IMSI).msisdn == "15550100001"


def test_audit_ims_eir_pages_and_no_page_ever_shows_a_key(stack: Stack) -> None:
    b = stack.browser
    b.login(stack.tokens[Role.ADMIN])
    for path, name in (("/console/audit", "audit"), ("/console/ims", "ims"), ("/console/eir", "eir"),
                       ("/console/apns", "apns"), (f"/console/subscribers/{IMSI}", "subscriber-admin")):
        b.visit(path, name)
    assert "PATCH" in b.pages["audit"] and "console-provision" in b.pages["audit"]
    assert "sip:alice@ims.localdomain" in b.pages["ims"] and "sip:scscf.ims.localdomain" in b.pages["ims"]
    assert "trial handsets" in b.pages["eir"] and "35209900176148" in b.pages["eir"]
    assert "alice@ims.localdomain" in b.text("#subscriber-ims")  # the subscriber page links its IMS identities
    assert len(b.pages) >= 20
    for name, html in b.pages.items():
        assert not [s for s in SECRETS if s in html], name
