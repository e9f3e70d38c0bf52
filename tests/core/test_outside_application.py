"""Black box: `sigcore run` loads an application and a dictionary from outside the package (the worked example
of docs/applications.md, copied to a temporary directory) through the ``applications`` and
``diameter.dictionaries`` config keys, and a python-diameter client gets its answer. Without the
application the same command is refused (3001 in an application the node serves); without the dictionary
a relaying node still forwards it, untouched, to a python-diameter next hop chosen by an out-routing hook."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from diameter.message import Message, MessageHeader
from diameter.message.avp import Avp, AvpUtf8String

from interop.ports import free_tcp_port, wait_tcp_listening
from interop.process import LoggedProcess
from interop.pydiameter_peer import APP_S6A, PyDiameterPeer, quiet_python_diameter_logs
from sigcore.store import create_key_file

pytestmark = [pytest.mark.slow]
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "acme"
ACME_APP, ACME_VENDOR, AGR = 16777999, 32473, 8388999

ROUTE_APP = '''
"""Route realm acme.example to hss2.localdomain (a test's out-routing hook)."""

def install(node, ctx):
    node.settings.relay = True

    def to_hss2(transit, scores):
        if transit.routing.destination_realm == "acme.example":
            for peer in scores:
                if peer.name == "hss2.localdomain":
                    scores[peer] += 100

    node.routing.add_out_routing(to_hss2)
'''


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("acme.json", "acme_greeting.py"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    (tmp_path / "acme_route.py").write_text(ROUTE_APP)
    create_key_file(tmp_path / "kek.hex")
    # beside the PYTHONPATH given, which may name the checkout under test (else the venv's install runs)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
    quiet_python_diameter_logs()
    return tmp_path


def run(workdir: Path, name: str, port: int, *, applications: list[str], dictionaries: list[str],
        peers: list[dict[str, Any]] | None = None) -> LoggedProcess:
    config = {
        "diameter": {"origin_host": f"{name}.localdomain", "origin_realm": "localdomain",
                     "listen": [f"127.0.0.1:{port}"], "dictionaries": dictionaries, "peers": peers or []},
        "database": {"url": f"sqlite:///{workdir}/{name}.sqlite", "key_file": str(workdir / "kek.hex")},
        "api": {"enabled": False},
        "metrics": {"enabled": False},
        "applications": applications,
    }
    (workdir / f"{name}.yaml").write_text(yaml.safe_dump(config))
    proc = LoggedProcess([sys.executable, "-m", "sigcore.cli", "run", "--config", f"{name}.yaml"],
                         workdir / f"{name}.log", cwd=workdir)
    proc.start()
    try:
        wait_tcp_listening(port, timeout=30)
    except BaseException as err:
        proc.stop()
        raise AssertionError(proc.log_tail()) from err
    return proc


@pytest.fixture
def started() -> Iterator[list[LoggedProcess]]:
    procs: list[LoggedProcess] = []
    yield procs
    for proc in procs:
        proc.stop()


def agr(client: PyDiameterPeer, name: str, app: int = ACME_APP, realm: str = "localdomain",
        extra: list[Avp] | None = None) -> Message:
    msg = Message(MessageHeader(command_flags=0xC0, command_code=AGR, application_id=app))
    node = client.node
    for avp in (AvpUtf8String(263, payload=node.session_generator.next_id().encode(), flags=0x40),
                Avp.new(258, value=app), Avp.new(264, value=node.origin_host.encode()),
                Avp.new(296, value=node.realm_name.encode()), Avp.new(283, value=realm.encode()),
                AvpUtf8String(1, vendor_id=ACME_VENDOR, payload=name.encode(), flags=0x40), *(extra or [])):
        msg.append_avp(avp)
    return msg


def aga_2001(app: Any, request: Message) -> Message:
    """python-diameter's answer to a command it has no class for, with the AVPs set by hand."""
    aga = request.to_answer()
    for avp in (request.avps[0], Avp.new(268, value=2001), Avp.new(264, value=b"hss2.localdomain"),
                Avp.new(296, value=b"acme.example")):
        aga.append_avp(avp)
    return aga


def first(msg: Message, code: int, vendor: int = 0) -> Any:
    found = [a for a in msg.avps if a.code == code and a.vendor_id == vendor]
    return found[0].value if found else None


def test_an_outside_application_and_dictionary_answer_a_python_diameter_client(
        workdir: Path, started: list[LoggedProcess]) -> None:
    port = free_tcp_port()
    started.append(run(workdir, "hss", port, applications=["acme_greeting"], dictionaries=["acme.json"]))
    with PyDiameterPeer("client.localdomain", "localdomain", ACME_APP, remote_host="hss.localdomain",
                        connect_port=port) as client:
        client.wait_ready()
        aga = client.request(agr(client, "Alice"))
        assert first(aga, 268) == 2001
        assert first(aga, 2, ACME_VENDOR) == b"Hello, Alice!"
        refused = client.request(agr(client, "nobody"))
        assert first(refused, 268) == 5030 and first(refused, 281) == "we do not greet nobody"


def test_without_the_application_the_command_is_unsupported(workdir: Path, started: list[LoggedProcess]) -> None:
    port = free_tcp_port()
    started.append(run(workdir, "hss", port, applications=[], dictionaries=["acme.json"]))
    with PyDiameterPeer("client.localdomain", "localdomain", APP_S6A, remote_host="hss.localdomain",
                        connect_port=port) as client:
        client.wait_ready()
        answer = client.request(agr(client, "Alice", app=APP_S6A))
        assert first(answer, 268) == 3001 and answer.header.is_error


def test_without_the_dictionary_a_relay_forwards_the_command_untouched(
        workdir: Path, started: list[LoggedProcess]) -> None:
    dra_port, hss2_port = free_tcp_port(), free_tcp_port()
    unknown = AvpUtf8String(77, vendor_id=ACME_VENDOR, payload=b"not in any dictionary", flags=0)
    # python-diameter serves a request only for a realm it has a route for: the DRA's, here acme.example
    with PyDiameterPeer("hss2.localdomain", "acme.example", ACME_APP, remote_host="dra.localdomain",
                        remote_realm="acme.example", listen_port=hss2_port, answer=aga_2001) as hss2:
        started.append(run(workdir, "dra", dra_port, applications=["acme_route"], dictionaries=[],
                           peers=[{"name": "hss2.localdomain", "port": hss2_port, "mode": "connect"}]))
        hss2.wait_ready()
        with PyDiameterPeer("client.localdomain", "localdomain", ACME_APP, remote_host="dra.localdomain",
                            connect_port=dra_port) as client:
            client.wait_ready()
            sent = agr(client, "Alice", realm="acme.example", extra=[unknown])
            answer = client.request(sent)
            assert first(answer, 268) == 2001 and first(answer, 264) == b"hss2.localdomain"
            got = hss2.next_request()
    assert [a.as_bytes() for a in got.avps if a.code != 282] == [a.as_bytes() for a in sent.avps]
    assert [a.value for a in got.avps if a.code == 282] == [b"client.localdomain"]  # Route-Record
    assert (got.header.command_code, got.header.application_id) == (AGR, ACME_APP)


@pytest.mark.parametrize(("applications", "dictionaries", "says"), [
    (["no_such_app"], [], "invalid configuration: applications: 'no_such_app': cannot import no_such_app"),
    ([], ["missing.json"], "invalid configuration: diameter.dictionaries: missing.json: cannot read"),
    ([], ["broken.json"], "invalid configuration: diameter.dictionaries: broken.json: Expecting"),
])
def test_a_bad_entry_stops_the_start_with_its_name_and_no_traceback(
        workdir: Path, applications: list[str], dictionaries: list[str], says: str) -> None:
    (workdir / "broken.json").write_text("{not json")
    config = {"diameter": {"listen": [f"127.0.0.1:{free_tcp_port()}"], "dictionaries": dictionaries},
              "database": {"url": f"sqlite:///{workdir}/x.sqlite", "key_file": str(workdir / "kek.hex")},
              "api": {"enabled": False}, "metrics": {"enabled": False}, "applications": applications}
    (workdir / "bad.yaml").write_text(yaml.safe_dump(config))
    done = subprocess.run([sys.executable, "-m", "sigcore.cli", "run", "--config", "bad.yaml"], cwd=workdir,
                          capture_output=True, text=True, timeout=60, check=False)
    # docs/configuration.md: a bad value is one line naming the key, and `run` exits 2 (it exited 1, and a
    # dictionary file's line named the file only)
    assert done.returncode == 2 and done.stderr.splitlines()[-1].startswith(says), done.stderr
    assert "Traceback" not in done.stderr + done.stdout
