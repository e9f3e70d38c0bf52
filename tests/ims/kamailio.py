"""A Kamailio 5.6 I-CSCF and S-CSCF on loopback, peered over cdp with a sigcore HSS, plus SIP clients.

`ImsCore.start(hss_port)` renders the templates in ``tests/ims/kamailio`` into a temporary directory
(random UDP ports for SIP, random TCP ports for the cdp acceptors), creates the I-CSCF's SQLite tables
and starts both programs; `stop()` ends them. cdp connects out to the HSS (its peer FQDN is
"localhost", which resolves without DNS), so sigcore only listens.

The registration client is sipp (`run_sipp`), with its own Digest and Digest-AKAv1-MD5 implementations
(``[authentication]``): ``tests/ims/sipp/register_digest.xml`` and ``register_aka.xml``. The test checks
sipp's AKA answer with its own USIM model and digest arithmetic (tests/support/usim_model.py, tests/ims/sip_digest.py).
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interop.ports import free_tcp_ports, free_udp_port
from interop.process import LoggedProcess

TEMPLATES = Path(__file__).resolve().parent / "kamailio"
SIPP_SCENARIOS = Path(__file__).resolve().parent / "sipp"
MODULES = Path("/usr/lib/x86_64-linux-gnu/kamailio/modules")
CX_XSD = Path(__file__).resolve().parents[2] / "src/sigcore/hss/ims/schemas/CxDataType.xsd"
REALM = "localdomain"
CDP_HSS_FQDN = "localhost"


def is_installed() -> bool:
    return (shutil.which("kamailio") is not None and (MODULES / "ims_registrar_scscf.so").exists()
            and shutil.which("sipp") is not None)


def fill(text: str, **values: object) -> str:
    """Replace ``${name}`` placeholders (Kamailio's own ``$var`` syntax is left alone)."""
    for name, value in values.items():
        text = text.replace("${" + name + "}", str(value))
    missing = re.findall(r"\$\{(\w+)\}", text)
    assert not missing, f"unfilled placeholders {missing}"
    return text


def _render(template: str, out: Path, **values: object) -> Path:
    out.write_text(fill((TEMPLATES / template).read_text(), **values))
    return out


@dataclass
class ImsCore:
    workdir: Path
    icscf_sip: int = field(default_factory=free_udp_port)
    scscf_sip: int = field(default_factory=free_udp_port)
    processes: dict[str, LoggedProcess] = field(default_factory=dict)
    capture: Any = None  # the tshark capture of the Cx traffic, when a test records one

    def __post_init__(self) -> None:
        self.icscf_diameter, self.scscf_diameter = free_tcp_ports(2)

    @property
    def scscf_uri(self) -> str:
        return f"sip:127.0.0.1:{self.scscf_sip}"

    def start(self, hss_port: int) -> None:
        common = dict(realm=REALM, hss_fqdn=CDP_HSS_FQDN, hss_port=hss_port, workdir=self.workdir,
                      mpath=f"{MODULES}/", scscf_uri=self.scscf_uri, cx_xsd=CX_XSD)
        _render("cdp.xml", self.workdir / "icscf.xml", fqdn="icscf.localdomain",
                diameter_port=self.icscf_diameter, **common)
        _render("cdp.xml", self.workdir / "scscf.xml", fqdn="scscf.localdomain",
                diameter_port=self.scscf_diameter, **common)
        _render("icscf.cfg", self.workdir / "icscf.cfg", sip_port=self.icscf_sip, **common)
        _render("scscf.cfg", self.workdir / "scscf.cfg", sip_port=self.scscf_sip, **common)
        sql = _render("icscf.sql", self.workdir / "icscf.sql", **common)
        with sqlite3.connect(self.workdir / "icscf.sqlite") as db:
            db.executescript(sql.read_text())
        for name in ("icscf", "scscf"):
            proc = LoggedProcess(["kamailio", "-DD", "-E", "-f", str(self.workdir / f"{name}.cfg"),
                                  "-P", str(self.workdir / f"{name}.pid"), "-Y", str(self.workdir),
                                  "-w", str(self.workdir)], self.workdir / f"{name}.log")
            proc.start()
            self.processes[name] = proc

    def log(self, name: str) -> str:
        return self.processes[name].log_text()

    def rpc(self, command: str, *args: str) -> str:
        """A Kamailio RPC on the S-CSCF's control socket (kamcmd), e.g. ``ulscscf.showimpu``."""
        out = subprocess.run(["kamcmd", "-s", f"unix:{self.workdir}/scscf_ctl", command, *args],
                             capture_output=True, text=True, timeout=10, check=False)
        return out.stdout + out.stderr

    def stop(self) -> None:
        for proc in self.processes.values():
            proc.stop(timeout=10)


@dataclass
class SippResult:
    """sipp's exit status, its ``-trace_msg`` log (every message sent and received, in order) and its stderr."""

    returncode: int
    messages: str
    stderr: str = ""

    def _traced(self, direction: str) -> list[str]:
        # sipp writes "UDP message sent (471 bytes):" but "UDP message received [461] bytes :"
        pattern = rf"message {direction} (?:\(\d+ bytes\)|\[\d+\] bytes) ?:\n\n(.*?)(?=\n-{{10,}}|\Z)"
        return [m.replace("\r\n", "\n") for m in re.findall(pattern, self.messages, re.S)]

    def received(self) -> list[str]:
        return self._traced("received")

    def sent(self) -> list[str]:
        return self._traced("sent")

    def final_response(self) -> str:
        """The last SIP response sipp received (the 200 OK of a successful registration)."""
        received = self.received()
        return received[-1] if received else ""

    def response(self, status: int) -> str:
        """The first response with ``status`` sipp received, e.g. the 401 challenge."""
        found = [m for m in self.received() if m.startswith(f"SIP/2.0 {status} ")]
        assert found, f"no {status} in sipp's trace:\n{self.messages[-3000:]}"
        return found[0]


def run_sipp(core: ImsCore, workdir: Path, scenario_name: str, **placeholders: object) -> SippResult:
    """Run one call of ``tests/ims/sipp/<scenario_name>`` (its ``${...}`` placeholders filled) at the I-CSCF."""
    scenario = workdir / scenario_name
    scenario.write_text(fill((SIPP_SCENARIOS / scenario_name).read_text(), domain=REALM, **placeholders))
    messages = workdir / f"{scenario.stem}_messages.log"
    proc = subprocess.run(
        ["sipp", "-sf", str(scenario), "-m", "1", "-i", "127.0.0.1", "-p", str(free_udp_port()), "-nostdin",
         "-trace_msg", "-message_file", str(messages), "-timeout", "20", "-timeout_error",
         f"127.0.0.1:{core.icscf_sip}"], capture_output=True, timeout=60, check=False)
    trace = messages.read_text(errors="replace") if messages.exists() else ""
    return SippResult(proc.returncode, trace, proc.stderr.decode(errors="replace"))


def header(message: str, name: str) -> str | None:
    match = re.search(rf"^{re.escape(name)}:\s*(.*)$", message, re.M | re.I)
    return match.group(1).strip() if match else None
