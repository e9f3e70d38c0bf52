"""Two writers of one unique key at once, on every backend: both pass the "is it free?" check and the
second write breaks the unique index. Measured with 40 rounds of 2 threads on PostgreSQL and MariaDB, that
ended in an IntegrityError (a Diameter 5012, an API 500, a CLI traceback) or, on MariaDB, a deadlock.
The check a concurrent writer slips past is blinded here (it finds nothing) to play the loser of the race
deterministically; the row it would have found is already committed."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
import sqlalchemy

from sigcore.charging import repo as repo_module
from sigcore.charging.repo import ChargingStore, Exists
from sigcore.store import Conflict, Store
from sigcore.store import ims as ims_module
from sigcore.store import subscribers as subscribers_module
from sigcore.store.eir import EirRepository
from sigcore.store.eir_models import eir_rules
from sigcore.store.ims import ImsStore, SequenceOutOfSync, ShSubscription


def _blind(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> None:
    """``module``'s ``select``/``delete`` now addresses no row: the check (or the delete before an insert)
    misses the row a concurrent writer committed just after it."""
    real = getattr(sqlalchemy, name)
    monkeypatch.setattr(module, name, lambda *args: real(*args).where(sqlalchemy.false()))


@pytest.fixture
def ims(store: Store) -> ImsStore:
    ims = ImsStore(store)
    ims.add_user("alice@ims.example", ["sip:alice@ims.example"], password="secret")
    return ims


def test_a_pur_creating_data_another_as_created_meanwhile_is_out_of_sync(
        ims: ImsStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sh PUR at sequence 0 from two ASes at once (PostgreSQL 38 of 40, MariaDB 39 of 40 were an
    IntegrityError, a 5012): the loser is out of sync (5105), as it would have been in turn."""
    impu = ims.get_impu("sip:alice@ims.example")
    assert impu is not None
    ims.put_repository_data(impu, "svc", 0, b"<first/>")
    _blind(monkeypatch, ims_module, "select")
    with pytest.raises(SequenceOutOfSync, match="svc"):
        ims.put_repository_data(impu, "svc", 0, b"<second/>")
    monkeypatch.undo()
    assert [(r.sequence, r.data) for r in ims.repository_data(impu)] == [(0, b"<first/>")]



def test_a_pur_updating_data_another_as_updated_meanwhile_is_out_of_sync(ims: ImsStore) -> None:
    """Sh PUR of the next sequence from two ASes at once (PostgreSQL 31, MariaDB 39 of 40 such races told
    both "success", the later write silently replacing the earlier): the loser is out of sync (5105).
    A real race: the other AS's PUR commits right after this one read the stored sequence."""
    if ims.store.engine.dialect.name == "sqlite":
        pytest.skip("SQLite's BEGIN IMMEDIATE keeps the two writers apart")
    impu = ims.get_impu("sip:alice@ims.example")
    assert impu is not None
    ims.put_repository_data(impu, "svc", 0, b"<created/>")
    fired: list[bool] = []

    def meanwhile(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not fired and statement.lstrip().upper().startswith("SELECT") and "sh_repository" in statement:
            fired.append(True)  # before: the other AS's PUR reads too
            ims.put_repository_data(impu, "svc", 1, b"<other/>")

    sqlalchemy.event.listen(ims.store.engine, "after_cursor_execute", meanwhile)
    try:
        with pytest.raises(SequenceOutOfSync, match="svc"):
            ims.put_repository_data(impu, "svc", 1, b"<mine/>")
    finally:
        sqlalchemy.event.remove(ims.store.engine, "after_cursor_execute", meanwhile)
    assert [(r.sequence, r.data) for r in ims.repository_data(impu)] == [(1, b"<other/>")]

def test_an_snr_repeating_a_subscription_made_meanwhile_replaces_it(
        ims: ImsStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sh SNR of one subscription twice at once (PostgreSQL 34 of 40 an IntegrityError, MariaDB 33 of 40 a
    deadlock): both succeed, the later one's expiry stands, one subscription is kept."""
    later = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    ims.subscribe(ShSubscription("sip:alice@ims.example", "as.example", "example", 0, "", None, False))
    _blind(monkeypatch, ims_module, "delete")
    ims.subscribe(ShSubscription("sip:alice@ims.example", "as.example", "example", 0, "", later, True))
    monkeypatch.undo()
    impu = ims.get_impu("sip:alice@ims.example")
    assert impu is not None
    assert [(s.expires_at, s.one_time) for s in ims.subscriptions(impu, 0)] == [(later, True)]


def test_mapping_a_subscription_id_mapped_meanwhile_replaces_the_mapping(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """`sigcore account map` of one Subscription-Id twice at once (PostgreSQL 35 of 40 an IntegrityError,
    MariaDB 35 of 40 a deadlock: a CLI traceback): both succeed, the later account standing."""
    charging = ChargingStore(store)
    charging.map_subscription(1, "001010000000001", "tenant", "first")
    _blind(monkeypatch, repo_module, "delete")
    charging.map_subscription(1, "001010000000001", "tenant", "second")
    monkeypatch.undo()
    assert charging.resolve([(1, "001010000000001")], "tenant") == ("tenant", "second")


@pytest.mark.parametrize("overwrite", [True, False])
def test_a_document_created_meanwhile_is_overwritten_or_exists(
        store: Store, monkeypatch: pytest.MonkeyPatch, overwrite: bool) -> None:
    """JSON-RPC SetActions/SetActionPlan of one id twice at once (with Overwrite: PostgreSQL 30 of 40,
    MariaDB 20 of 40 were an IntegrityError): with Overwrite the later one stands, without it the loser is
    told the id exists."""
    charging = ChargingStore(store)
    charging.set_document("actions", "TOPUP", ["first"], overwrite)
    _blind(monkeypatch, repo_module, "select")
    if overwrite:
        charging.set_document("actions", "TOPUP", ["second"], overwrite)
    else:
        with pytest.raises(Exists):
            charging.set_document("actions", "TOPUP", ["second"], overwrite)
    monkeypatch.undo()
    assert charging.get_document("actions", "TOPUP") == (["second"] if overwrite else ["first"])


def test_an_impi_added_meanwhile_is_a_conflict(ims: ImsStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """`sigcore ims add` (or POST of an IMPI) of one IMPI twice at once: PostgreSQL 40 of 40, MariaDB 39 of
    40 were an IntegrityError (a CLI traceback); the loser is a Conflict, and nothing of it is kept."""
    _blind(monkeypatch, ims_module, "select")
    with pytest.raises(Conflict, match="IMPI alice@ims"):
        ims.add_user("alice@ims.example", ["sip:alice2@ims.example"], password="secret")
    monkeypatch.undo()
    assert ims.get_impu("sip:alice2@ims.example") is None


def test_impis_added_at_once_share_a_new_impu_and_the_default_profile(
        ims: ImsStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two IMPIs added at once sharing a new IMPU (PostgreSQL 32, MariaDB 39 of 40 an IntegrityError), or
    both creating the ``default`` service profile (33 and 40 of 40): both succeed, the IMPU linked to both
    (as one that existed before is), the profile made once."""
    _blind(monkeypatch, ims_module, "select")
    bob = ims.add_user("bob@ims.example", ["sip:bob@ims.example", "sip:alice@ims.example"], password="secret")
    monkeypatch.undo()
    alice = ims.get_impu("sip:alice@ims.example")
    assert alice is not None
    assert ims.impis_of(alice) == ["alice@ims.example", "bob@ims.example"]
    assert [i.impu for i in ims.impus_of(bob)] == ["sip:alice@ims.example", "sip:bob@ims.example"]
    new = ims.get_impu("sip:bob@ims.example")
    assert new is not None and new.implicit_set == new.id and new.profile_id == alice.profile_id


def test_an_account_created_by_two_writers_at_once_is_made_once(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """AddBalance / SetAccount of a new account from two processes at once (MariaDB 39 of 40 such races a
    deadlock, the top-up failed): both succeed on the one account. A real race: the second writer runs
    while the first is between its read of the account and its insert."""
    charging = ChargingStore(store)
    second: list[BaseException | None] = []

    def create() -> None:
        try:
            with charging.locked_account("tenant", "new", create=True) as (_conn, slot):
                assert slot.account is not None
            second.append(None)
        except BaseException as err:  # the outcome is asserted below
            second.append(err)

    thread = threading.Thread(target=create)
    read = ChargingStore._select_account

    def read_then_wait(self: ChargingStore, *args: Any, **kwargs: Any) -> Any:
        found = read(self, *args, **kwargs)
        if threading.current_thread() is not thread and thread.ident is None:
            thread.start()
            thread.join(0.5)  # it reads and tries its insert meanwhile (on MariaDB: waits on our gap lock)
        return found

    monkeypatch.setattr(ChargingStore, "_select_account", read_then_wait)
    with charging.locked_account("tenant", "new", create=True) as (_conn, slot):
        assert slot.account is not None
    thread.join(30)
    assert second == [None]
    assert [a.name for a in charging.list_accounts("tenant")] == ["new"]


def test_two_replacements_of_a_subscribers_apn_list_at_once_both_succeed(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two PATCHes replacing one subscriber's APN list at once (PostgreSQL: 39 of 40 such races were a 409
    "a concurrent change conflicts", from the second one's insert breaking the key of the first one's
    rows): both succeed, the later list standing. A real race: the second PATCH runs while the first has
    written its rows and not committed."""
    store.add_subscriber("001010000000001", ki="00" * 16, opc="00" * 16, apns=["internet", "ims"])
    second: list[BaseException | None] = []

    def replace() -> None:
        try:
            store.update_subscriber("001010000000001", apns=["ims", "internet"])
            second.append(None)
        except BaseException as err:  # the outcome is asserted below
            second.append(err)

    thread = threading.Thread(target=replace)
    write = subscribers_module.SubscriberRepository._write_apns

    def write_then_wait(*args: Any) -> None:
        write(*args)
        if thread.ident is None:
            thread.start()
            thread.join(0.5)  # it reads, deletes the old rows and waits on ours meanwhile

    monkeypatch.setattr(subscribers_module.SubscriberRepository, "_write_apns", staticmethod(write_then_wait))
    store.update_subscriber("001010000000001", apns=["internet", "ims"])
    thread.join(30)
    assert second == [None]
    assert [a.profile.name for a in store.get_subscriber("001010000000001").apns] == ["ims", "internet"]


def test_an_eir_rule_added_twice_by_a_race_is_still_a_conflict_to_add(store: Store) -> None:
    """Two adds of one EIR rule at once both pass the check (PostgreSQL 29, MariaDB 37 of 40 such races
    stored it twice: no unique key covers a rule without IMSI). Adding it again then failed with
    MultipleResultsFound (an API 500, a CLI traceback) instead of the Conflict naming the rule."""
    rules = EirRepository(store)
    first = rules.add_rule("35000000", "blacklisted", exact=False)
    with store.writing() as conn:  # the second copy the race left
        conn.execute(sqlalchemy.insert(eir_rules), {"pattern": "35000000", "exact": False, "imsi": None,
                                                   "status": "blacklisted", "created_at": first.created_at})
    with pytest.raises(Conflict, match=f"rule {first.id} already covers prefix 35000000"):
        rules.add_rule("35000000", "greylisted", exact=False)
