"""Beside dockerd: our accept rules go into its DOCKER-USER chain and only ours come out (in a private netns)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.daemon_harness import REPO

pytestmark = pytest.mark.privileged

SCRIPT = textwrap.dedent("""
    import asyncio, subprocess
    from berth.daemon.networks import coexist
    from berth.daemon.networks.nftables import BridgeRules

    def nft(text):
        subprocess.run(["nft", "-f", "-"], input=text.encode(), check=True)

    def chain():
        return subprocess.run(["nft", "list", "chain", "ip", "filter", "DOCKER-USER"],
                              capture_output=True, text=True, check=True).stdout

    async def main():
        # no filter table: nothing is created
        assert await coexist.sync_docker_user_rules("tb", [BridgeRules("br9", "10.9.0.0/24")]) is False
        assert "filter" not in subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
        nft("add table ip filter\\n"
            "add chain ip filter DOCKER-USER\\n"
            "add rule ip filter DOCKER-USER counter return comment \\"theirs\\"\\n"
            "add chain ip filter FORWARD { type filter hook forward priority filter; policy drop; }\\n"
            "add rule ip filter FORWARD jump DOCKER-USER\\n")
        assert await coexist.sync_docker_user_rules("tb", [BridgeRules("br9", "10.9.0.0/24")]) is True
        text = chain()
        assert 'iifname "br9" accept comment "berth:tb"' in text, text
        await coexist.sync_docker_user_rules("tb", [BridgeRules("br8", "10.8.0.0/24", internal=True)])
        text = chain()
        assert "br9" not in text and 'iifname "br8" oifname "br8" accept' in text, text
        await coexist.remove_docker_user_rules("tb")
        text = chain()
        assert "berth:" not in text and "theirs" in text, text
        print("OK")

    asyncio.run(main())
""")


def test_docker_user_rules_in_a_private_netns() -> None:
    res = subprocess.run(["unshare", "--net", sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "OK" in res.stdout
