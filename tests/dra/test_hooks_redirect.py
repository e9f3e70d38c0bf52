"""The richer hook (``dra.hooks``) and redirect answers."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sigcore.diameter.answers import Identity
from sigcore.diameter.application import reject_answer
from sigcore.diameter.constants import FLAG_ERROR, FLAG_PROXIABLE, FLAG_REQUEST
from sigcore.diameter.dictionary import DICTIONARY
from sigcore.diameter.message import Message
from sigcore.dra.hooks import HookChain
from sigcore.dra.redirect import diameter_uri, redirect_rejection
from sigcore.dra.script_errors import ScriptErrors
from sigcore.dra.scriptmodule import ScriptLoadError

S6A, AIR = 16777251, 318
HOOKS = '''
def rewrite(message, peers):
    message.set("User-Name", message.get("User-Name")[::-1])
    message.add("Route-Record", "hook.example")
    message.remove("Visited-PLMN-Id")

def prefer_b(message, peers):
    peers.sort(key=lambda p: p != "hss-b")

def only_a(message, peers):
    return ["HSS-A"]

def reject_test_imsis(message, peers):
    if message.get("User-Name", "").startswith("999"):
        message.answer(5001, "test IMSI")

def edit_then_raise(message, peers):
    message.set("User-Name", "lost")
    raise RuntimeError("half way")

def bad_return(message, peers):
    return 7
'''


@pytest.fixture
def hook_module(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "dra_test_hooks.py").write_text(HOOKS)
    sys.path.insert(0, str(tmp_path))
    yield "dra_test_hooks"
    sys.path.remove(str(tmp_path))
    sys.modules.pop("dra_test_hooks", None)


def air(imsi: str = "001011234567890") -> Message:
    msg = DICTIONARY.message(AIR, S6A, FLAG_REQUEST | FLAG_PROXIABLE, [
        ("Session-Id", "mme;1"), ("Origin-Host", "mme.example"), ("Origin-Realm", "example"),
        ("Destination-Realm", "epc.example"), ("User-Name", imsi), ("Visited-PLMN-Id", b"\x00\xf1\x10")])
    return Message.decode(msg.encode())


def chain(mod: str, *names: str, errors: ScriptErrors | None = None) -> HookChain:
    return HookChain([f"{mod}:{n}" for n in names], DICTIONARY, errors or ScriptErrors())


def test_hook_edits_avps(hook_module: str) -> None:
    msg = air()
    out = chain(hook_module, "rewrite").run(msg, ["hss-a"])
    assert out.changed and out.peers == ["hss-a"] and out.local_answer is None
    again = DICTIONARY.decode_checked(msg.encode())
    assert again["User-Name"] == "098765432110100" and again.get("Visited-PLMN-Id") is None
    assert again["Route-Record"] == "hook.example"


def test_hooks_reorder_or_replace_peers(hook_module: str) -> None:
    assert chain(hook_module, "prefer_b").run(air(), ["hss-a", "hss-b"]).peers == ["hss-b", "hss-a"]
    assert chain(hook_module, "prefer_b", "only_a").run(air(), ["hss-a", "hss-b"]).peers == ["hss-a"]


def test_hook_answers_locally(hook_module: str) -> None:
    assert chain(hook_module, "reject_test_imsis").run(air("999"), ["x"]).local_answer == (5001, "test IMSI")
    assert chain(hook_module, "reject_test_imsis").run(air(), ["x"]).local_answer is None


def test_raising_hook_changes_nothing_and_the_next_runs(hook_module: str) -> None:
    errors = ScriptErrors()
    msg = air()
    raw = msg.raw
    out = chain(hook_module, "edit_then_raise", "bad_return", "prefer_b", errors=errors).run(msg, ["hss-a", "hss-b"])
    assert errors.total == 2 and not out.changed and msg.raw == raw and msg["User-Name"] == "001011234567890"
    assert out.peers == ["hss-b", "hss-a"]


def test_unknown_hooks_fail_at_start_with_a_message(hook_module: str) -> None:
    with pytest.raises(ScriptLoadError, match="no_such_module_xyz"):
        chain("no_such_module_xyz", "f")
    with pytest.raises(ScriptLoadError, match="has no function 'nope'"):
        chain(hook_module, "nope")


def test_redirect_answer_names_the_peers() -> None:
    req = air()
    err = redirect_rejection([diameter_uri("hss1.example", 3868), diameter_uri("hss2.example", 3869, "tls")], 60)
    ans = DICTIONARY.decode_checked(reject_answer(req, Identity("dra.example", "example"), err).encode())
    assert ans.flags & FLAG_ERROR and ans["Result-Code"] == 3006 and ans.hop_by_hop == req.hop_by_hop
    assert DICTIONARY.get_values(ans.avps, "Redirect-Host") == [
        "aaa://hss1.example:3868;transport=tcp;protocol=diameter",
        "aaas://hss2.example:3869;transport=tcp;protocol=diameter"]
    assert ans["Redirect-Max-Cache-Time"] == 60 and ans["Session-Id"] == "mme;1"
