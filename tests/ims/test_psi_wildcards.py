"""Wildcarded PSIs in the TS 23.003 §13.5 syntax: what is accepted, how old patterns migrate (0007), and an
LIR against the worst wildcard an operator can write staying cheap."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from sigcore.diameter.answers import result_of
from sigcore.hss.cx.handlers import CxService
from sigcore.hss.ims.codes import CxCommand, CxResult
from sigcore.store import InvalidValue, Store, migrate
from sigcore.store import psi_wildcard as w
from sigcore.store.engine import make_engine
from support.handlers import served

from .test_cx import CTX, SCSCF, _req, cx  # noqa: F401  (cx: fixture)

#: The costliest pattern the syntax allows: the wildcarded part first, then the longest literal tail that
#: nearly matches, against URIs as long as the column holds: every split point of '.*' is tried.
WORST = "sip:!.*!" + "a" * 200 + "b@x"
NEAR_MISSES = ["sip:" + "a" * 240 + f"{n}@x" for n in range(10)]


@pytest.mark.parametrize("wildcard", [
    "sip:chatlist!.*!@example.com", "sip:conf-![0-9]+!@ims.example.org", r"tel:+1555!\d{4}!", "sip:x!.?!@h",
    "sip:room-![a-z0-9_-]{1,16}!@ims.example.org"])
def test_the_specification_syntax_is_accepted(wildcard: str) -> None:
    assert w.check("wildcard", wildcard) == wildcard


@pytest.mark.parametrize("wildcard", [
    "sip:conf.*@example.com",  # a regular expression without the '!' delimiters
    "sip:!(a+)+!b@x", "sip:!(a|aa)*!@x", "sip:!.*!!.*!@x", "sip:!.*.*!@x", "sip:![z-a]*!@x", "sip:!!@x"])
def test_other_patterns_are_refused(wildcard: str) -> None:
    with pytest.raises(InvalidValue, match=r"TS 23\.003"):
        w.check("wildcard", wildcard)


def test_matching() -> None:
    assert w.matches("sip:conf-![0-9]+!@ims.example.org", "sip:conf-42@ims.example.org")
    assert not w.matches("sip:conf-![0-9]+!@ims.example.org", "sip:conf-x@ims.example.org")
    assert not w.matches("sip:conf-![0-9]+!@ims.example.org", "sip:conf-42@imsXexample.org")  # '.' is literal


async def test_catastrophic_patterns_cannot_reach_an_lir(cx: CxService) -> None:  # noqa: F811
    with pytest.raises(InvalidValue):
        cx.ims.add_psi("sip:slow@localdomain", wildcard="sip:!(a+)+!b@localdomain", scscf=SCSCF)
    cx.ims.add_psi("sip:conf!.*!@localdomain", scscf=SCSCF, wildcard="sip:conf!.*!@localdomain")
    lir = _req(CxCommand.LIR, ("Public-Identity", "sip:" + "a" * 40 + "@localdomain"))
    lia = await served(cx.application(), lir, CTX)
    assert result_of(lia) == CxResult.USER_UNKNOWN  # no wildcard matches: answered at once


async def test_an_lir_against_the_worst_wildcard_is_cheap(cx: CxService) -> None:  # noqa: F811
    """A generous budget, counted in LIRs: 10 ms each, for 200 of them (they took seconds each before)."""
    cx.ims.add_psi(WORST, wildcard=WORST, scscf=SCSCF)
    lirs, budget = 200, 200 * 0.010
    started = time.perf_counter()
    for n in range(lirs):
        await served(cx.application(), _req(CxCommand.LIR, ("Public-Identity", NEAR_MISSES[n % len(NEAR_MISSES)])), CTX)
    assert time.perf_counter() - started < budget


def test_migration_0007_rewrites_or_demotes_old_patterns(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    migrate(url, "0005")
    impus = sa.table("ims_public_identities", sa.column("impu"), sa.column("identity_type"), sa.column("wildcard"),
                     sa.column("implicit_set"), sa.column("reg_state"), sa.column("barred"), sa.column("profile_id"))
    profiles = sa.table("ims_service_profiles", sa.column("id"), sa.column("name"))
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.insert(profiles).values(id=1, name="default"))
        for uri, pattern in (("sip:conf!.*!@x", r"sip:conf-[0-9]+@ims\.example\.org"), ("sip:slow@x", "(a+)+b"),
                             ("sip:chat!.*!@x", "sip:chat.*@x")):
            conn.execute(sa.insert(impus).values(impu=uri, identity_type=2, wildcard=pattern, implicit_set=0,
                                                 reg_state=0, barred=False, profile_id=1))
    migrate(url)
    with engine.connect() as conn:
        rows = {r.impu: (r.identity_type, r.wildcard) for r in conn.execute(sa.select(impus))}
    engine.dispose()
    assert rows == {"sip:conf!.*!@x": (2, "sip:conf-![0-9]+!@ims.example.org"), "sip:slow@x": (1, None),
                    "sip:chat!.*!@x": (2, "sip:chat!.*!@x")}
    with Store(url, None) as store:
        assert store is not None  # the store opens the migrated database
