"""Go-template --format subset, docker's size and time units, tabwriter tables and row fields."""

from __future__ import annotations

import pytest

from berth.cli.formatter import ContainerRow, ImageRow, ellipsis, render, tabwrite
from berth.cli.templates import Template, TemplateError
from berth.cli.units import ago, human_size, ram_in_bytes

DOC = {"Id": "abc", "State": {"Status": "running", "Pid": 12, "Running": True},
       "Config": {"Labels": {"b": "2", "a": "1"}, "Env": ["A=1", "B=2"], "Cmd": None},
       "Mounts": [{"Source": "/s", "Destination": "/d"}, {"Source": "/t", "Destination": "/e"}]}


@pytest.mark.parametrize(("text", "want"), [
    ("{{.Id}}", "abc"),
    ("{{.State.Status}}/{{.State.Pid}}/{{.State.Running}}", "running/12/true"),
    ("{{json .Config.Labels}}", '{"a":"1","b":"2"}'),
    ("{{json .Config.Cmd}}", "null"),
    ('{{index .Config.Labels "b"}}', "2"),
    ("{{.Config.Nope}}", "<no value>"),
    ("{{.Config.Cmd}}", "<nil>"),
    ("{{.Config.Env}}", "[A=1 B=2]"),
    ("{{range .Mounts}}{{.Source}}->{{.Destination}};{{end}}", "/s->/d;/t->/e;"),
    ("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}},{{end}}", "a=1,b=2,"),
    ("{{range .Config.Nope}}x{{else}}empty{{end}}", "empty"),
    ("{{if .State.Running}}up{{else}}down{{end}}", "up"),
    ("{{if eq .State.Status \"exited\"}}x{{else if .State.Running}}r{{end}}", "r"),
    ("{{with .State}}{{.Pid}}{{end}}", "12"),
    ("{{.State.Status | upper}} {{lower \"AB\"}} {{title \"web\"}}", "RUNNING ab Web"),
    ("{{join .Config.Env \",\"}}", "A=1,B=2"),
    ("{{len .Mounts}} {{printf \"%s-%d\" .Id .State.Pid}}", "2 abc-12"),
    ("{{- .Id -}}  \n", "abc"),
    ("{{json (index .Mounts 0)}}", '{"Source":"/s","Destination":"/d"}'),
    ("{{$.Id}}", "abc"),
])
def test_templates(text: str, want: str) -> None:
    assert Template(text).execute(DOC) == want


def test_template_errors() -> None:
    with pytest.raises(TemplateError):
        Template("{{range .Mounts}}x")
    with pytest.raises(TemplateError):
        Template("{{nofunc .Id}}").execute(DOC)


@pytest.mark.parametrize(("size", "want"), [
    (0, "0B"), (999, "999B"), (1000, "1kB"), (4261, "4.26kB"), (187654321, "188MB"), (7800000, "7.8MB"),
    (1_234_567_890, "1.23GB"), (999_999, "1e+03kB"),
])
def test_human_size(size: int, want: str) -> None:
    assert human_size(size) == want


def test_ram_and_ago() -> None:
    assert ram_in_bytes("64m") == 64 * 1024 * 1024
    assert ram_in_bytes("1g") == 1024**3
    assert ram_in_bytes("512") == 512
    with pytest.raises(ValueError, match="invalid size"):
        ram_in_bytes("lots")
    assert ago(1000, now=1120) == "2 minutes ago"
    assert ago(1000, now=1000.5) == "Less than a second ago"
    assert ago(1000, now=1000 + 3 * 86400) == "3 days ago"


def test_tabwriter_like_go() -> None:
    assert tabwrite("A\tBB\tC\nlonger text\tx\ty") == "A             BB        C\nlonger text   x         y"
    assert ellipsis("abcdefghijklmnopqrstuvwxyz", 20) == "abcdefghijklmnopqrs…"
    assert ellipsis("short", 20) == "short"


def test_container_row_fields() -> None:
    c = {"Id": "f" * 64, "Names": ["/a", "/b/link"], "Image": "sha256:" + "1" * 64, "Command": "x" * 30,
         "Created": 100, "Ports": [{"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}],
         "SizeRw": 12, "SizeRootFs": 5_000_000}
    row = ContainerRow(c, now=160)
    assert (row.ID, row.Image, row.Names, row.Ports) == ("f" * 12, "1" * 12, "a", "[::]:8080->80/tcp")
    assert row.Command == '"' + "x" * 19 + '…"'
    assert row.RunningFor == "About a minute ago"
    assert row.Size == "12B (virtual 5MB)"
    full = ContainerRow(c, trunc=False)
    assert (full.ID, full.Names, full.Command) == ("f" * 64, "a,b/link", '"' + "x" * 30 + '"')


def test_render_table_and_json() -> None:
    imgs = ImageRow.rows([{"Id": "sha256:" + "a" * 64, "RepoTags": ["r:1", "reg:5000/r"], "Created": 0,
                           "Size": 10}])
    assert [(r.Repository, r.Tag) for r in imgs] == [("r", "1"), ("reg:5000/r", "<none>")]
    out = render("table {{.Repository}}:{{.Tag}}\t{{.Size}}", imgs, ImageRow.HEADERS, "")
    assert out.splitlines() == ["REPOSITORY:TAG      SIZE", "r:1                 10B",
                                "reg:5000/r:<none>   10B"]
    assert render("json", imgs[:1], ImageRow.HEADERS, "").startswith('{"Containers":"N/A","CreatedAt":')


def test_row_method_with_argument() -> None:
    row = ContainerRow({"Id": "a" * 64, "Labels": {"com.x": "1"}})
    assert Template('{{.Label "com.x"}}|{{.Label "nope"}}').execute(row) == "1|"


def test_progress_plain_skips_bars_and_shows_statuses() -> None:
    from berth.cli.progress import Progress
    out: list[str] = []
    p = Progress(out.append, terminal=False)
    p.show({"status": "Pulling from library/busybox", "id": "latest"})
    p.show({"status": "Pulling fs layer", "progressDetail": {}, "id": "abc"})
    p.show({"status": "Downloading", "progressDetail": {"current": 5, "total": 10},
            "progress": "[==>  ] 5B/10B", "id": "abc"})
    p.show({"status": "Pull complete", "progressDetail": {}, "id": "abc"})
    p.show({"stream": "Loaded image: x:1\n"})
    assert "".join(out) == ("latest: Pulling from library/busybox\nabc: Pulling fs layer\n"
                            "abc: Pull complete\nLoaded image: x:1\n")


def test_progress_terminal_rewrites_the_layer_line() -> None:
    from berth.cli.pflag import StatusError
    from berth.cli.progress import Progress
    out: list[str] = []
    p = Progress(out.append, terminal=True)
    p.show({"status": "Downloading", "progressDetail": {"current": 5, "total": 10},
            "progress": "[==>  ]", "id": "abc"})
    p.show({"status": "Download complete", "progressDetail": {}, "id": "abc"})
    assert "".join(out) == ("\n\x1b[1A\x1b[2K\rabc: Downloading [==>  ]\r\x1b[1B"
                            "\x1b[1A\x1b[2K\rabc: Download complete\r\n\x1b[1B")
    with pytest.raises(StatusError, match="denied"):
        p.show({"errorDetail": {"message": "denied"}, "error": "denied"})
