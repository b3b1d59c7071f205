"""The berth CLI against a fake daemon: tables, formats, inspect, errors, run/exec sessions, exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.unit.cli.conftest import CID, Engine

Berth = Callable[..., tuple[int, str, str]]


def test_ps_default_table(engine: Engine, berth: Berth) -> None:
    code, out, _ = berth("ps", "-a")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    assert lines[0].startswith("CONTAINER ID   IMAGE          COMMAND ")
    assert lines[1].startswith(
        "4f2a9c3b1d7e   nginx:latest   \"/docker-entrypoint.…\"   2 minutes ago   Up 2 minutes")
    assert "443/tcp, 0.0.0.0:8080->80/tcp   web" in lines[1]
    assert lines[2].startswith("999999999999   cdcdcdcdcdcd   \"true\"")
    assert engine.daemon.requests[0].q("all") == "1"


def test_ps_quiet_no_trunc_filters_and_format(engine: Engine, berth: Berth) -> None:
    assert berth("ps", "-q")[1] == "4f2a9c3b1d7e\n999999999999\n"
    assert berth("ps", "-q", "--no-trunc")[1].splitlines()[0] == CID
    berth("ps", "--filter", "status=exited", "-f", "label=app=web", "-n", "3")
    req = engine.daemon.requests[-1]
    assert json.loads(req.q("filters") or "") == {"status": {"exited": True}, "label": {"app=web": True}}
    assert req.q("limit") == "3"
    assert berth("ps", "--format", "{{.ID}}\\t{{.Names}}")[1] == "4f2a9c3b1d7e\tweb\n999999999999\tjob\n"
    out = berth("ps", "--format", "table {{.ID}}\\t{{.Image}}")[1].splitlines()
    assert out == ["CONTAINER ID   IMAGE", "4f2a9c3b1d7e   nginx:latest", "999999999999   cdcdcdcdcdcd"]
    row = json.loads(berth("ps", "--format", "{{json .}}")[1].splitlines()[0])
    assert row["Names"] == "web"
    assert row["Labels"] == "app=web"


def test_container_ls_group_form(engine: Engine, berth: Berth) -> None:
    assert berth("container", "ls", "-q")[1].startswith("4f2a9c3b1d7e\n")
    assert berth("container", "bogus")[0] == 1


def test_images_table(engine: Engine, berth: Berth) -> None:
    _, out, _ = berth("images")
    lines = out.splitlines()
    assert lines[0] == "REPOSITORY             TAG       IMAGE ID       CREATED              SIZE"
    assert lines[1].split() == ["nginx", "latest", "abababababab", "3", "days", "ago", "188MB"]
    assert lines[2].startswith("localhost:5000/nginx   1.25 ")
    assert lines[3].split() == ["<none>", "<none>", "efefefefefef", "About", "a", "minute", "ago", "4.26kB"]
    assert berth("image", "ls", "-q")[1] == "abababababab\nabababababab\nefefefefefef\n"


def test_inspect_json_array_and_format(engine: Engine, berth: Berth) -> None:
    code, out, _ = berth("inspect", "web")
    assert code == 0
    assert json.loads(out)[0]["Id"] == CID
    assert out.startswith("[\n    {\n")
    assert berth("inspect", "-f", "{{.State.Status}} {{.State.Pid}}", "web")[1] == "running 4242\n"
    assert berth("inspect", "--format", '{{index .Config.Labels "tier"}}', "web")[1] == "front\n"
    assert berth("inspect", "-f", "{{json .Config.Labels}}", "web")[1] == '{"app":"web","tier":"front"}\n'
    out = berth("inspect", "-f", "{{range .Mounts}}{{.Source}}:{{.Destination}} {{end}}", "web")[1]
    assert out == "/srv:/data /var/lib/v:/v \n"


def test_inspect_falls_back_to_images_and_reports_missing(engine: Engine, berth: Berth) -> None:
    code, out, err = berth("inspect", "nginx", "nothere")
    assert code == 1
    assert json.loads(out)[0]["RepoTags"] == ["nginx:latest"]
    assert err == "Error: No such object: nothere\n"
    assert [f"{r.method} {r.path}" for r in engine.daemon.requests][-2:] == [
        "GET /containers/nothere/json", "GET /images/nothere/json"]


def test_rm_stop_kill_print_names_and_errors(engine: Engine, berth: Berth) -> None:
    code, out, err = berth("rm", "-f", "web", "ghost", "-v")
    assert (code, out) == (1, "web\n")
    assert err == "Error response from daemon: No such container: ghost\n"
    req = engine.last("DELETE /containers/web")
    assert (req.q("force"), req.q("v")) == ("1", "1")
    assert berth("stop", "-t", "1", "web") == (0, "web\n", "")
    assert engine.last("POST /containers/web/stop").q("t") == "1"
    assert berth("kill", "-s", "HUP", "web")[0] == 0
    assert engine.last("POST /containers/web/kill").q("signal") == "HUP"


def test_run_attached_multiplexed_exit_code(engine: Engine, berth: Berth) -> None:
    engine.exit_code = 3
    code, out, err = berth("run", "--rm", "--name", "t1", "-e", "A=1", "busybox", "sh", "-c", "exit 3")
    assert (code, out, err) == (3, "hello\n", "oops\n")
    assert engine.daemon.paths() == ["POST /containers/create", f"POST /containers/{CID}/attach",
                                     f"POST /containers/{CID}/wait", f"POST /containers/{CID}/start"]
    assert engine.last(f"POST /containers/{CID}/wait").q("condition") == "removed"
    attach = engine.last(f"POST /containers/{CID}/attach")
    assert attach.headers["upgrade"] == "tcp"
    assert (attach.q("stdout"), attach.q("stderr"), attach.q("stdin")) == ("1", "1", None)
    body = engine.created[0]
    assert body["Cmd"] == ["sh", "-c", "exit 3"]
    assert body["Env"] == ["A=1"]
    assert body["HostConfig"]["AutoRemove"] is True
    assert engine.last("POST /containers/create").q("name") == "t1"


def test_run_detached_prints_full_id(engine: Engine, berth: Berth) -> None:
    code, out, _ = berth("run", "-d", "-p8080:80", "busybox", "top")
    assert (code, out) == (0, CID + "\n")
    assert engine.last(f"POST /containers/{CID}/wait").q("condition") == "next-exit"
    assert "POST /containers/" + CID + "/attach" not in engine.daemon.paths()
    assert engine.created[0]["HostConfig"]["PortBindings"] == {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}


def test_run_interactive_sends_stdin_then_half_closes(engine: Engine, berth: Berth,
                                                      stdin_pipe: Callable[[bytes], None]) -> None:
    engine.echo_stdin = True
    engine.output = ((1, b"done\n"),)
    stdin_pipe(b"typed input\n")
    code, out, _ = berth("run", "-i", "busybox", "cat")
    assert (code, out) == (0, "typed input\ndone\n")
    assert engine.last(f"POST /containers/{CID}/attach").q("stdin") == "1"
    assert engine.created[0]["OpenStdin"] is True
    assert engine.created[0]["StdinOnce"] is True


def test_run_pulls_missing_image_then_creates(engine: Engine, berth: Berth) -> None:
    engine.image_present = False
    code, _, err = berth("run", "-d", "busybox")
    assert code == 0
    assert "Unable to find image 'busybox:latest' locally" in err
    assert "Status: Downloaded newer image for busybox:latest" in err
    pull = engine.last("POST /images/create")
    assert (pull.q("fromImage"), pull.q("tag")) == ("busybox", "latest")


def test_run_daemon_errors_exit_125_and_127(engine: Engine, berth: Berth) -> None:
    code, _, err = berth("run", "--pull=never", "-d", "busybox")
    assert code == 0
    engine.start_error = ('failed to create task: exec: "nope": executable file not found in $PATH')
    code, _, err = berth("run", "busybox", "nope")
    assert code == 127
    assert err.startswith("berth: Error response from daemon: failed to create task")
    engine.start_error = "cannot start: bad config"
    assert berth("run", "busybox")[0] == 125


RUN_HELP = "\n\nRun 'berth run --help' for more information\n"
RUN_USAGE = "\n\nUsage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]" + RUN_HELP


@pytest.mark.parametrize(("flags", "status", "text"), [
    # each text is what docker 28's CLI prints for the same flags, with berth for docker
    (["--restart=always", "--rm"], 125,
     "berth: conflicting options: cannot specify both --restart and --rm" + RUN_HELP),
    (["-a", "stdout", "-d"], 1, "conflicting options: cannot specify both --attach and --detach\n"),
    (["--restart", "on-failure:x"], 125,
     "berth: invalid restart policy format: maximum retry count must be an integer" + RUN_HELP),
    (["--restart", ":3"], 125, "berth: invalid restart policy format: no policy provided before colon" + RUN_HELP),
    (["--env-file", "/nonexistent.env"], 125, "berth: open /nonexistent.env: no such file or directory" + RUN_HELP),
    (["--ulimit", "nofile=x"], 125,
     'invalid argument "nofile=x" for "--ulimit" flag: strconv.ParseInt: parsing "x": invalid syntax' + RUN_USAGE),
    (["--ulimit", "nofile"], 125, 'invalid argument "nofile" for "--ulimit" flag: invalid ulimit argument: nofile'
     + RUN_USAGE),
    (["--ulimit", "foo=1"], 125, 'invalid argument "foo=1" for "--ulimit" flag: invalid ulimit type: foo' + RUN_USAGE),
    (["--ulimit", "nofile=10:5"], 125, 'invalid argument "nofile=10:5" for "--ulimit" flag: ulimit soft limit must '
     "be less than or equal to hard limit: 10 > 5" + RUN_USAGE),
    (["--ulimit", "nofile=1:2:3"], 125, 'invalid argument "nofile=1:2:3" for "--ulimit" flag: too many limit value '
     "arguments - 1:2:3, can only have up to two, `soft[:hard]`" + RUN_USAGE),
    (["--cpus", "x"], 125, 'invalid argument "x" for "--cpus" flag: failed to parse x as a rational number'
     + RUN_USAGE),
    (["-m", "1x"], 125, 'invalid argument "1x" for "-m, --memory" flag: invalid suffix: \'x\'' + RUN_USAGE),
    (["-m", " 5m"], 125, 'invalid argument " 5m" for "-m, --memory" flag: strconv.ParseFloat: parsing " 5": '
     "invalid syntax" + RUN_USAGE),
    (["--shm-size", "1q"], 125, 'invalid argument "1q" for "--shm-size" flag: invalid suffix: \'q\'' + RUN_USAGE),
    (["--sysctl", "bad"], 125, 'invalid argument "bad" for "--sysctl" flag: sysctl \'bad\' is not allowed'
     + RUN_USAGE),
])
def test_run_option_errors_read_as_dockers(engine: Engine, berth: Berth, flags: list[str], status: int,
                                           text: str) -> None:
    assert berth("run", *flags, "busybox", "true") == (status, "", text)
    assert not engine.created


def test_run_options_docker_accepts(engine: Engine, berth: Berth) -> None:
    assert berth("run", "-d", "--cpus", "1/2", "-m", "1.5k", "--ulimit", "nofile=10:-1", "--restart",
                 "on-failure:3", "--log-opt", "tag", "--log-opt", "max-size=1k", "busybox")[0] == 0
    hc = engine.created[-1]["HostConfig"]
    assert (hc["NanoCpus"], hc["Memory"]) == (500_000_000, 1536)
    assert hc["Ulimits"] == [{"Name": "nofile", "Soft": 10, "Hard": -1}]
    assert hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert hc["LogConfig"]["Config"] == {"tag": "", "max-size": "1k"}


def test_start_attach_uses_wait_and_exit_code(engine: Engine, berth: Berth) -> None:
    engine.exit_code = 7
    code, out, _ = berth("start", "-a", "web")
    assert (code, out) == (7, "hello\n")
    assert engine.daemon.paths()[0] == "GET /containers/web/json"
    assert berth("start", "web") == (0, "web\n", "")


def test_logs_demultiplexes(engine: Engine, berth: Berth) -> None:
    from tests.unit.client.fakedaemon import frame, send_chunks

    @engine.daemon.route("GET", "/containers/([^/]+)/logs")
    def logs(req, cid):  # type: ignore[no-untyped-def]
        send_chunks(req, [frame(1, b"line1\n") + frame(2, b"err1\n")[:5], frame(2, b"err1\n")[5:]],
                    "application/vnd.docker.multiplexed-stream")
    code, out, err = berth("logs", "-n", "5", "-t", "web")
    assert (code, out, err) == (0, "line1\n", "err1\n")
    req = engine.last("GET /containers/web/logs")
    assert (req.q("tail"), req.q("timestamps"), req.q("follow")) == ("5", "1", None)


def test_exec_reads_exit_code(engine: Engine, berth: Berth) -> None:
    from tests.unit.client.fakedaemon import finish, frame, head

    @engine.daemon.route("POST", "/containers/([^/]+)/exec")
    def create(req, cid):  # type: ignore[no-untyped-def]
        return {"Id": "e" * 64, "Body": req.json()}, 201

    @engine.daemon.route("POST", "/exec/([^/]+)/start")
    def start(req, eid):  # type: ignore[no-untyped-def]
        head(req.sock, 101, {"Content-Type": "application/vnd.docker.multiplexed-stream"})
        req.sock.sendall(frame(1, b"in exec\n"))
        finish(req)

    @engine.daemon.route("GET", "/exec/([^/]+)/json")
    def inspect(req, eid):  # type: ignore[no-untyped-def]
        return {"ExitCode": 42, "Running": False}
    code, out, _ = berth("exec", "-e", "X=1", "-w", "/tmp", "web", "ls", "-la")
    assert (code, out) == (42, "in exec\n")
    body = engine.last("POST /containers/web/exec").json()
    assert body["Cmd"] == ["ls", "-la"]
    assert (body["Env"], body["WorkingDir"], body["AttachStdin"]) == (["X=1"], "/tmp", False)
    assert engine.last(f"POST /exec/{'e' * 64}/start").json() == {"Detach": False, "Tty": False}


def test_wait_prints_codes(engine: Engine, berth: Berth) -> None:
    engine.exit_code = 5
    assert berth("wait", "web") == (0, "5\n", "")


def test_usage_errors(engine: Engine, berth: Berth) -> None:
    code, _, err = berth("ps", "--bogus")
    assert (code, err) == (125, "unknown flag: --bogus\n\nUsage:  berth ps [OPTIONS]\n\n"
                                "Run 'berth ps --help' for more information\n")
    code, _, err = berth("rm")
    assert (code, err) == (1, "berth: 'berth rm' requires at least 1 argument\n\nUsage:  berth rm [OPTIONS] "
                              "CONTAINER [CONTAINER...]\n\nSee 'berth rm --help' for more information\n")
    assert berth("ps", "x")[2].startswith("berth: 'berth ps' accepts no arguments\n")
    assert berth("rename", "a")[2].startswith("berth: 'berth rename' requires 2 arguments\n")
    code, _, err = berth("ps", "-n", "x")
    assert (code, err.splitlines()[0]) == (
        125, 'invalid argument "x" for "-n, --last" flag: strconv.ParseInt: parsing "x": invalid syntax')
    code, _, err = berth("ps", "-fz")
    assert (code, err.splitlines()[0]) == (
        125, 'invalid argument "z" for "-f, --filter" flag: bad format of filter (expected name=value)')
    assert berth("nosuch") == (1, "", "berth: unknown command: berth nosuch\n\n"
                                      "Run 'berth --help' for more information\n")
    code, out, _ = berth("ps", "--help")
    assert (code, "Usage:  berth ps [OPTIONS]" in out) == (0, True)


def test_unreachable_daemon(berth: Berth, monkeypatch: object) -> None:
    code, _, err = berth("-H", "unix:///nonexistent.sock", "ps")
    assert code == 1
    assert err == ("Cannot connect to the Berth daemon at unix:///nonexistent.sock. "
                   "Is the berth daemon running?\n")


def test_version_output(engine: Engine, berth: Berth) -> None:
    engine.daemon.route("GET", "/version")(lambda req: {"Version": "0.1.0", "ApiVersion": "1.44",
                                                        "MinAPIVersion": "1.40", "Os": "linux",
                                                        "Arch": "amd64"})
    code, out, _ = berth("version")
    assert code == 0
    assert " API version:       1.44\n" in out
    assert "  API version:      1.44 (minimum version 1.40)\n" in out
    assert berth("version", "--format", "{{.Server.Version}}")[1] == "0.1.0\n"
    assert berth("--version")[1].startswith("Berth version ")


def test_template_error_texts_like_docker(engine: Engine, berth: Berth) -> None:
    assert berth("inspect", "-f", "{{.Foo}}", "web")[2] == (
        'template parsing error: template: :1:2: executing "" at <.Foo>: map has no entry for key "Foo"\n')
    assert berth("inspect", "-f", "{{.Config.Nope}}", "web")[2] == (
        'template parsing error: template: :1:9: executing "" at <.Config.Nope>: map has no entry for key "Nope"\n')
    assert berth("inspect", "-f", "{{.Config.Labels.nope}}", "web")[1] == "<no value>\n"
    code, _, err = berth("ps", "--format", "table {{.ID}} {{.Bar}}")
    assert (code, err) == (1, 'failed to execute template: template: :1:16: executing "" at <.Bar>: '
                              "can't evaluate field Bar in type *formatter.ContainerContext\n")
    assert berth("ps", "--format", "{{.ID")[2] == "failed to parse template: template: :1: unclosed action\n"
    assert berth("images", "--format", "{{range .X}}")[2] == "template parsing error: template: :1: unexpected EOF\n"
