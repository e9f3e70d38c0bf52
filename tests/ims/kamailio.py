"""A Kamailio 5.6 I-CSCF and S-CSCF on loopback, peered over cdp with a sigcore HSS, plus SIP clients.

`ImsCore.start(hss_port)` renders the templates in ``tests/ims/kamailio`` into a temporary directory
(random UDP ports for SIP, random TCP ports for the cdp acceptors), creates the I-CSCF's SQLite tables
and starts both programs; `stop()` ends them. cdp connects out to the HSS (its peer FQDN is
"localhost", which resolves without DNS), so sigcore only listens.

Two registration clients:
* `run_sipp_digest`: sipp with its own digest implementation ([authentication]) — an independent client.
* `AkaSipClient`: a few lines of SIP over UDP for Digest-AKAv1-MD5 (RFC 3310), answering the challenge
  with the test's USIM model (tests/usim_model.py), so the AKA response never comes from sigcore's AUC.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import socket
import sqlite3
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interop.ports import free_tcp_ports, free_udp_port
from interop.process import LoggedProcess

TEMPLATES = Path(__file__).resolve().parent / "kamailio"
SIPP_SCENARIOS = Path(__file__).resolve().parent / "sipp"
MODULES = Path("/usr/lib/x86_64-linux-gnu/kamailio/modules")
CX_XSD = Path(__file__).resolve().parents[2] / "src/sigcore/hss/schemas/CxDataType.xsd"
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
    returncode: int
    messages: str

    def final_response(self) -> str:
        """The last SIP response sipp received (the 200 OK of a successful registration)."""
        received = re.findall(r"message received \[\d+\] bytes :\n\n(.*?)(?=\n-{10,}|\Z)", self.messages, re.S)
        return received[-1] if received else ""


def run_sipp_digest(core: ImsCore, workdir: Path, *, user: str, impi: str, password: str) -> SippResult:
    scenario = workdir / "register_digest.xml"
    scenario.write_text(fill((SIPP_SCENARIOS / "register_digest.xml").read_text(),
                             user=user, domain=REALM, impi=impi, password=password))
    messages = workdir / "sipp_messages.log"
    proc = subprocess.run(
        ["sipp", "-sf", str(scenario), "-m", "1", "-i", "127.0.0.1", "-p", str(free_udp_port()), "-nostdin",
         "-trace_msg", "-message_file", str(messages), "-timeout", "20", "-timeout_error",
         f"127.0.0.1:{core.icscf_sip}"], capture_output=True, timeout=60, check=False)
    return SippResult(proc.returncode, messages.read_text(errors="replace") if messages.exists() else "")


def header(message: str, name: str) -> str | None:
    match = re.search(rf"^{re.escape(name)}:\s*(.*)$", message, re.M | re.I)
    return match.group(1).strip() if match else None


class AkaSipClient:
    """REGISTER with Digest-AKAv1-MD5 (RFC 3310) over UDP; the USIM computes RES from the nonce."""

    def __init__(self, core: ImsCore, user: str, impi: str) -> None:
        self.core, self.user, self.impi = core, user, impi
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(10)
        self.port = self.sock.getsockname()[1]
        self.call_id = uuid.uuid4().hex
        self.cseq = 0

    def close(self) -> None:
        self.sock.close()

    def register(self, authorization: str) -> str:
        """Send one REGISTER and return the first final (non-1xx) response."""
        self.cseq += 1
        branch = "z9hG4bK" + uuid.uuid4().hex[:16]
        aor = f"sip:{self.user}@{REALM}"
        lines = [
            f"REGISTER sip:{REALM} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch={branch};rport",
            "Max-Forwards: 70",
            f"From: <{aor}>;tag={self.call_id[:8]}",
            f"To: <{aor}>",
            f"Call-ID: {self.call_id}",
            f"CSeq: {self.cseq} REGISTER",
            f"Contact: <sip:{self.user}@127.0.0.1:{self.port}>",
            "Expires: 600",
            f"P-Visited-Network-ID: {REALM}",
            f"Authorization: {authorization}",
            "Content-Length: 0",
        ]
        self.sock.sendto(("\r\n".join(lines) + "\r\n\r\n").encode(), ("127.0.0.1", self.core.icscf_sip))
        while True:
            data, _ = self.sock.recvfrom(65535)
            text = data.decode(errors="replace").replace("\r\n", "\n")
            if not text.startswith("SIP/2.0 1"):
                return text

    def initial_authorization(self) -> str:
        return (f'Digest username="{self.impi}",realm="{REALM}",nonce="",uri="sip:{REALM}",response="",'
                'algorithm=AKAv1-MD5')

    def answer(self, challenge: str, password: bytes) -> str:
        """The Authorization header answering ``challenge`` (WWW-Authenticate) with ``password`` = RES."""
        params = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge))
        nonce, realm = params["nonce"], params["realm"]
        uri, nc, cnonce = f"sip:{REALM}", "00000001", uuid.uuid4().hex[:16]
        ha1 = hashlib.md5(f"{self.impi}:{realm}:".encode() + password).hexdigest()
        ha2 = hashlib.md5(f"REGISTER:{uri}".encode()).hexdigest()
        response = hashlib.md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}".encode()).hexdigest()
        return (f'Digest username="{self.impi}",realm="{realm}",nonce="{nonce}",uri="{uri}",'
                f'response="{response}",algorithm=AKAv1-MD5,qop=auth,nc={nc},cnonce="{cnonce}"')


def rand_autn(challenge: str) -> tuple[bytes, bytes]:
    """RAND and AUTN from an AKA nonce: base64(RAND ‖ AUTN ‖ server data), RFC 3310 §3.2."""
    nonce = re.search(r'nonce="([^"]+)"', challenge)
    assert nonce is not None, challenge
    raw = base64.b64decode(nonce.group(1))
    return raw[:16], raw[16:32]
