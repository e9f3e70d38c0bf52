"""Black box: python-diameter MMEs through `sigcore run` DRAs to `sigcore run` HSSs (issue #19's acceptance):
IMSI-range routing, the seed's transforms, a failing script, loops (3005) and redirects (3006); tshark
judges every byte on the wire."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from interop.ports import free_tcp_ports
from interop.tshark import check_pcap, diameter_messages

from .nodes import Nodes, air, avp_values, mme, origin_host, result_code

pytestmark = [pytest.mark.interop, pytest.mark.slow]
SCRIPTS = Path(__file__).parent / "scripts"
IMSI_A, IMSI_B = "001010000000001", "001020000000001"


def test_imsi_ranges_route_to_two_hss_processes(nodes: Nodes, tshark_capture) -> None:  # type: ignore[no-untyped-def]
    ports = free_tcp_ports(3)
    capture = tshark_capture(ports)  # first: stopped last, so the DPR/DPA exchanges are in the pcap
    hss1, hss2, dra_port = ports
    nodes.hss("hss1", [IMSI_A], hss1)
    nodes.hss("hss2", [IMSI_B], hss2)
    nodes.dra("dra", {"hss1": hss1, "hss2": hss2}, {"routes": [
        {"name": "range-a", "user_name_prefix": "00101", "peers": ["hss1.localdomain"]},
        {"name": "range-b", "user_name_prefix": "00102", "peers": ["hss2.localdomain"]}]}, port=dra_port)
    with mme(dra_port) as client:
        client.wait_ready()
        a, b = air(client, IMSI_A), air(client, IMSI_B)
        assert result_code(a) == 2001 and origin_host(a) == "hss1.localdomain"
        assert result_code(b) == 2001 and origin_host(b) == "hss2.localdomain"
        unknown = air(client, "001030000000001")  # no rule: the node's realm routing picks an S6a peer
        assert origin_host(unknown) in ("hss1.localdomain", "hss2.localdomain")
    nodes.stop_all()
    capture.stop()
    assert check_pcap(capture.pcap_path, ports) == []
    labels = [p.label for p in diameter_messages(capture.pcap_path, ports)]
    assert labels.count("318R") == 6 and labels.count("318A") == 6  # each AIR and AIA seen on both hops


def blog_version(tmp_path: Path, name: str, old_realm: str = "", new_realm: str = "") -> Path:
    """The verbatim seed script plus the ``return value`` the blog's text lost (and, for the realm rewrite,
    the two realm names its HTML lost), in a directory of its own."""
    directory = tmp_path / f"{name}-as-blog-says"
    directory.mkdir()
    text = (SCRIPTS / f"{name}.py").read_text()
    if old_realm:
        text = text.replace('if value == "":', f'if value == "{old_realm}":')
        text = text.replace('new_realm = ""', f'new_realm = "{new_realm}"')
    (directory / f"{name}.py").write_text(text + "    return value\n")
    return directory


def pyform(directory: Path, module: str) -> dict[str, object]:
    return {"routes": [{"peers": ["hss1.localdomain"]}],
            "pyform": {"directory": str(directory), "module": module, "function": "transform"}}


def test_seed_imsi_reversal_reverses_user_name_on_the_way(nodes: Nodes, tmp_path: Path) -> None:
    hss1 = nodes.hss("hss1", [IMSI_A])
    dra = nodes.dra("dra", {"hss1": hss1}, pyform(blog_version(tmp_path, "seed_imsi_reversal"),
                                                  "seed_imsi_reversal"))
    with mme(dra) as client:
        client.wait_ready()
        assert result_code(air(client, IMSI_A[::-1])) == 2001  # the HSS knows only the reversed one
        assert result_code(air(client, IMSI_A)) != 2001  # reversed: an IMSI the HSS does not know
    assert "This is IMSI '100000000010100' - Evaluating transformation" in nodes.log("dra")


def test_seed_realm_rewrite_rewrites_destination_realm(nodes: Nodes, tmp_path: Path) -> None:
    hss1 = nodes.hss("hss1", [IMSI_A])
    directory = blog_version(tmp_path, "seed_realm_rewrite", "visited.example", "localdomain")
    dra = nodes.dra("dra", {"hss1": hss1}, pyform(directory, "seed_realm_rewrite"))
    with mme(dra, remote_realm="visited.example") as client:
        client.wait_ready()
        answer = air(client, IMSI_A)  # without the rewrite the HSS would answer 3003 for visited.example
        assert result_code(answer) == 2001 and origin_host(answer) == "hss1.localdomain"


@pytest.mark.parametrize("script", ["raise", "int", "verbatim-seed"])
def test_failing_scripts_change_nothing_and_forwarding_goes_on(nodes: Nodes, tmp_path: Path, script: str) -> None:
    directory = tmp_path / "scripts"
    directory.mkdir()
    if script == "verbatim-seed":
        shutil.copy(SCRIPTS / "seed_imsi_reversal.py", directory / "transform_under_test.py")
    else:
        body = "raise RuntimeError('broken on purpose')" if script == "raise" else "return 42"
        (directory / "transform_under_test.py").write_text(
            f"def transform(appId, flags, cmdCode, HBH_ID, E2E_ID, AVP_Code, vendorID, value):\n    {body}\n")
    hss1 = nodes.hss("hss1", [IMSI_A])
    dra = nodes.dra("dra", {"hss1": hss1}, pyform(directory, "transform_under_test"))
    with mme(dra) as client:
        client.wait_ready()
        for _ in range(3):
            assert result_code(air(client, IMSI_A)) == 2001  # the User-Name went through unchanged
    log = nodes.log("dra")
    reported = log.count("transform_under_test.transform raised") + log.count("transform_under_test.transform "
                                                                              "returned")
    assert reported == 1  # once, though it failed on every string AVP of six messages
    if script == "raise":
        assert "RuntimeError: broken on purpose" in log and "Traceback" in log


def test_two_dras_routing_a_realm_to_each_other_answer_3005(nodes: Nodes) -> None:
    a_port, b_port = free_tcp_ports(2)
    routes_to = {"dra-a": {"routes": [{"destination_realm": "loop.example", "peers": ["dra-b.localdomain"]}]},
                 "dra-b": {"routes": [{"destination_realm": "loop.example", "peers": ["dra-a.localdomain"]}]}}
    nodes.dra("dra-b", {"dra-a": 0}, routes_to["dra-b"], port=b_port)
    nodes.dra("dra-a", {"dra-b": b_port}, routes_to["dra-a"], port=a_port)
    with mme(a_port, remote="dra-a.localdomain", remote_realm="loop.example") as client:
        client.wait_ready()
        answer = air(client, IMSI_A)
        assert result_code(answer) == 3005 and answer.header.is_error
        assert origin_host(answer) == "dra-a.localdomain"  # A found itself in the Route-Record


def test_redirect_mode_answers_3006_with_redirect_host(nodes: Nodes) -> None:
    hss1 = nodes.hss("hss1", [IMSI_A])
    dra = nodes.dra("dra", {"hss1": hss1}, {"mode": "redirect", "routes": [{"peers": ["hss1.localdomain"]}]})
    with mme(dra) as client:
        client.wait_ready()
        answer = air(client, IMSI_A)
        assert result_code(answer) == 3006 and answer.header.is_error
        hosts = [v.decode() if isinstance(v, bytes) else v for v in avp_values(answer, 292)]
        assert hosts == [f"aaa://hss1.localdomain:{hss1};transport=tcp;protocol=diameter"]
