"""The package: `python -m build` makes an sdist and a wheel; a fresh venv installs the wheel, and
`sigcore demo && sigcore run` work from an empty directory (no checkout: dictionaries, migrations and the
MIB come from the package), answering a python-diameter AIR for the demo subscriber."""

from __future__ import annotations

import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from sigcore_process import Sigcore
from sigcore_process import run_checked as _run

from interop.ports import free_tcp_port, free_udp_port
from support.s6a import air, mme

pytestmark = [pytest.mark.interop, pytest.mark.slow]
DEMO_IMSI = "001010000000001"


def test_wheel_in_a_fresh_venv_runs_the_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, built_dist: Path,
                                             built_wheel: Path) -> None:
    monkeypatch.delenv("SIGCORE_KEK", raising=False)
    monkeypatch.delenv("SIGCORE_CONFIG", raising=False)
    monkeypatch.delenv("PYTHONPATH", raising=False)  # a checkout on it would run instead of the installed wheel
    wheel = built_wheel
    sdist = next(built_dist.glob("sigcore-*.tar.gz"))
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("sigcore/diameter/dictdata/s6a.json", "sigcore/store/migrations/script.py.mako",
                   "sigcore/store/migrations/versions/0001_initial.py", "sigcore/metrics/snmp/mibs/SIGCORE-MIB.txt"):
        assert needed in names, needed
    with tarfile.open(sdist) as tar:  # the sdist can rebuild the C parts (or go on without them)
        for source in ("src/sigcore/diameter/_speedups.c", "src/sigcore/dra/_pyform.c"):
            assert any(n.endswith(source) for n in tar.getnames()), source
        assert any(n.endswith("/setup.py") for n in tar.getnames())

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    _run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)])
    empty = tmp_path / "empty"  # no checkout: only a config with loopback ports, as the test needs them
    node = Sigcore(empty, {"diameter": {"listen": [f"127.0.0.1:{free_tcp_port()}"]},
                           "api": {"listen": f"127.0.0.1:{free_tcp_port()}"},
                           "metrics": {"snmp": {"listen": f"127.0.0.1:{free_udp_port()}"}}},
                   python=str(venv / "bin" / "python"))
    where = _run([str(venv / "bin" / "python"), "-c", "import sigcore; print(sigcore.__file__)"], cwd=empty)
    assert where.startswith(str(venv)), where  # the installed package runs, not this checkout
    demo = node.command("demo")
    assert demo.returncode == 0, demo.stderr
    assert f"provisioned demo subscriber {DEMO_IMSI}" in demo.stdout
    assert (empty / "var" / "sigcore.key").exists() and (empty / "var" / "sigcore.sqlite").exists()
    try:
        run = node.start()
        assert "sigcore.cli" in " ".join(run.argv) and str(venv) in run.argv[0]
        with mme("mme1.localdomain", node.diameter_port) as mme1:
            mme1.wait_ready()
            assert air(mme1, imsi=DEMO_IMSI).result_code == 2001
    finally:
        node.stop()
