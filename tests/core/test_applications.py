"""The ``applications`` config key: each entry resolved to a function and called once with the node and an
`AppContext`; every failure is an `ApplicationError` naming the entry (what `sigcore run` prints)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sigcore.applications import AppContext, ApplicationError, Services, install_applications, resolve
from sigcore.config import ConfigError, parse_config
from sigcore.diameter.aio import Node, NodeSettings
from sigcore.diameter.answers import Identity

APP = '''
CALLS = []

def install(node, ctx):
    CALLS.append(("install", ctx.config.diameter.origin_host, node is ctx.node))
    node.register(4, "Credit-Control", lambda req, c: None)

def other(node, ctx):
    CALLS.append(("other",))
    ctx.services.starters.append(None)

def broken(node, ctx):
    raise KeyError("no such thing")

async def too_async(node, ctx):
    pass

NOT_A_FUNCTION = 3
'''


@pytest.fixture
def app_dir(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "outside_app.py").write_text(APP)
    (tmp_path / "fails_on_import.py").write_text("raise RuntimeError('boom at import')\n")
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in ("outside_app", "fails_on_import"):
        sys.modules.pop(name, None)


def _ctx(entries: list[str]) -> AppContext:
    cfg = parse_config({"applications": entries})
    node = Node(NodeSettings(Identity(cfg.diameter.origin_host, cfg.diameter.origin_realm)))
    return AppContext(cfg, node, Services())


def test_module_and_function_entries_are_each_called_once(app_dir: Path) -> None:
    ctx = _ctx(["outside_app", "outside_app:other"])
    install_applications(ctx.config.applications, ctx)
    import outside_app  # type: ignore[import-not-found]

    assert outside_app.CALLS == [("install", "hss.localdomain", True), ("other",)]
    assert (4, 272) in ctx.node.handlers and ctx.services.starters == [None]


@pytest.mark.parametrize(("entry", "says"), [
    ("no_such_module_here", "'no_such_module_here': cannot import no_such_module_here"),
    ("outside_app:missing", "'outside_app:missing': outside_app has no function missing"),
    ("outside_app:NOT_A_FUNCTION", "has no function NOT_A_FUNCTION"),
    ("outside_app:broken", "'outside_app:broken' failed to install: KeyError"),
    ("outside_app:too_async", "must be a plain function"),
    ("fails_on_import", "importing fails_on_import failed: RuntimeError: boom at import"),
])  # entries of the wrong form ('not a path', ':install') are the config's errors (tests/core/test_config.py)
def test_a_bad_entry_is_named_in_a_config_error(app_dir: Path, entry: str, says: str) -> None:
    ctx = _ctx([entry])
    with pytest.raises(ApplicationError, match=None) as info:
        install_applications(ctx.config.applications, ctx)
    assert says in str(info.value) and isinstance(info.value, ConfigError)


def test_entries_are_all_resolved_before_any_is_installed(app_dir: Path) -> None:
    ctx = _ctx(["outside_app", "no_such_module_here"])
    with pytest.raises(ApplicationError):
        install_applications(ctx.config.applications, ctx)
    import outside_app

    assert outside_app.CALLS == [] and not ctx.node.handlers


def test_resolve_defaults_to_install() -> None:
    assert resolve("sigcore.applications:resolve") is resolve


def test_applications_and_dictionaries_are_optional_lists() -> None:
    cfg = parse_config({})
    assert cfg.applications == [] and cfg.diameter.dictionaries == []
    with pytest.raises(ConfigError, match="applications"):
        parse_config({"applications": "oops"})


def test_dictionaries_merge_over_the_built_in_ones_and_name_a_bad_file(tmp_path: Path) -> None:
    from sigcore.diameter.dictionary import DICTIONARY, DictionaryError, load_with

    example = Path(__file__).resolve().parents[2] / "docs" / "examples" / "acme" / "acme.json"
    merged = load_with([example])
    assert merged.avp("Acme-Name").key == (1, 32473) and merged.avp("User-Name").code == 1
    assert "Acme-Name" not in DICTIONARY.by_name  # the process-wide one is untouched
    clash = tmp_path / "clash.json"
    clash.write_text('{"avps": [{"code": 1, "vendor": 0, "name": "Not-User-Name", "type": "UTF8String"}]}')
    with pytest.raises(DictionaryError, match=r"clash\.json: Not-User-Name reuses"):
        load_with([clash])
    undefined = tmp_path / "undefined.json"
    undefined.write_text('{"commands": [{"code": 1, "name": "X", "request": true, "rules": ["{ Nope }"]}]}')
    with pytest.raises(DictionaryError, match="undefined AVP"):
        load_with([undefined])


def test_a_dictionary_file_nested_too_deeply_is_named(tmp_path: Path) -> None:
    from sigcore.diameter.dictionary import DictionaryError, load_with

    deep = tmp_path / "deep.json"
    deep.write_text('{"avps": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(DictionaryError, match=f"{deep}: not valid JSON: nested too deeply"):
        load_with([deep])
