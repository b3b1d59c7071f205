"""pflag rules of the pre-pass, run's argument split, and the create request built from run flags."""

from __future__ import annotations

import pytest

from berth.cli.commands.container import PS, RM
from berth.cli.commands.exec import EXEC
from berth.cli.commands.run import RUN
from berth.cli.pflag import HelpRequested, UsageError
from berth.cli.runopts import create_request, parse_ports


def test_bool_with_explicit_value() -> None:
    ns = RUN.parse(["--rm=false", "-d=true", "img"])
    assert (ns.rm, ns.detach) == (False, True)
    assert RUN.parse(["--sig-proxy=false", "img"]).sig_proxy is False
    assert RUN.parse(["img"]).sig_proxy is True
    with pytest.raises(UsageError, match=r"strconv\.ParseBool"):
        RUN.parse(["--rm=maybe", "img"])


def test_short_clusters_and_attached_values() -> None:
    ns = RUN.parse(["-it", "-p8080:80", "-dp", "9090:90", "--env=A=1", "-eB=2", "img"])
    assert (ns.interactive, ns.tty, ns.detach) == (True, True, True)
    assert ns.publish == ["8080:80", "9090:90"]
    assert ns.env == ["A=1", "B=2"]


def test_everything_after_the_image_is_the_command() -> None:
    ns = RUN.parse(["--rm", "-v", "a:b", "busybox", "ls", "-la", "--rm", "-p", "1:1"])
    assert ns.args == ["busybox", "ls", "-la", "--rm", "-p", "1:1"]
    assert ns.volume == ["a:b"]
    assert RUN.parse(["busybox", "--", "echo", "hi"]).args == ["busybox", "--", "echo", "hi"]
    assert RUN.parse(["--", "busybox", "echo"]).args == ["busybox", "echo"]
    assert RUN.parse(["--rm", "false"]).args == ["false"]
    assert EXEC.parse(["-it", "c1", "sh", "-c", "x"]).args == ["c1", "sh", "-c", "x"]


def test_h_is_hostname_for_run_but_help_elsewhere() -> None:
    assert RUN.parse(["-h", "box", "img"]).hostname == "box"
    with pytest.raises(HelpRequested):
        PS.parse(["-h"])
    with pytest.raises(HelpRequested):
        RUN.parse(["--help"])


def test_interspersed_flags_and_errors() -> None:
    ns = RM.parse(["a", "-f", "b"])
    assert (ns.args, ns.force) == (["a", "b"], True)
    with pytest.raises(UsageError, match="unknown shorthand flag: 'z' in -fz"):
        RM.parse(["-fz", "a"])
    with pytest.raises(UsageError, match="flag needs an argument: --filter"):
        PS.parse(["--filter"])
    assert PS.parse(["-n", "2"]).last == 2
    assert PS.parse(["--last=5", "-aq"]).last == 5


def test_ports() -> None:
    specs = ["8080:80", "127.0.0.1::53/udp", "[::1]:9000:9000", "7000-7001:70-71", "443"]
    exposed, bindings = parse_ports(specs, ["5000/udp"])
    assert set(exposed) == {"80/tcp", "53/udp", "9000/tcp", "70/tcp", "71/tcp", "443/tcp", "5000/udp"}
    assert bindings["80/tcp"] == [{"HostIp": "", "HostPort": "8080"}]
    assert bindings["53/udp"] == [{"HostIp": "127.0.0.1", "HostPort": ""}]
    assert bindings["9000/tcp"] == [{"HostIp": "::1", "HostPort": "9000"}]
    assert bindings["71/tcp"] == [{"HostIp": "", "HostPort": "7001"}]
    assert bindings["443/tcp"] == [{"HostIp": "", "HostPort": ""}]


def test_create_request_like_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROM_HOST", "yes")
    ns = RUN.parse(["-it", "--rm", "--name", "n", "-e", "A=1", "-e", "FROM_HOST", "-w", "/w", "-u", "1:2",
                    "--entrypoint", "", "--init", "-l", "k=v", "--stop-signal", "SIGINT",
                    "--stop-timeout", "3",
                    "-v", "/srv:/data:ro", "-v", "/anon", "--memory", "64m", "--cpus", "1.5",
                    "--cap-add", "NET_ADMIN", "--privileged", "--network", "mynet", "--network-alias", "w",
                    "--restart", "no", "img", "sh"])
    query, body = create_request(ns, run=True, console=(30, 100))
    assert query == {"name": "n", "platform": None}
    assert body["Env"] == ["A=1", "FROM_HOST=yes"]
    assert (body["Tty"], body["OpenStdin"], body["StdinOnce"], body["AttachStdin"]) == (True,) * 4
    assert (body["Entrypoint"], body["Cmd"], body["WorkingDir"], body["User"]) == ([""], ["sh"], "/w", "1:2")
    assert (body["StopSignal"], body["StopTimeout"], body["Labels"]) == ("SIGINT", 3, {"k": "v"})
    assert body["Volumes"] == {"/anon": {}}
    hc = body["HostConfig"]
    assert hc["Binds"] == ["/srv:/data:ro"]
    assert (hc["Memory"], hc["NanoCpus"], hc["AutoRemove"], hc["Init"]) == (67108864, 1500000000, True, True)
    assert (hc["CapAdd"], hc["Privileged"], hc["NetworkMode"]) == (["CAP_NET_ADMIN"], True, "mynet")
    assert hc["ConsoleSize"] == [30, 100]
    assert hc["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0}
    assert body["NetworkingConfig"] == {"EndpointsConfig": {"mynet": {"Aliases": ["w"]}}}


def test_detached_create_request_does_not_attach() -> None:
    _, body = create_request(RUN.parse(["-d", "-i", "img"]), run=True)
    assert (body["AttachStdout"], body["AttachStdin"], body["StdinOnce"], body["OpenStdin"]) == (
        False, False, False, True)
    assert body["Cmd"] is None
    assert body["NetworkingConfig"] == {"EndpointsConfig": {"default": {"Aliases": None}}}
