"""Image commands: images, tag, rmi, history, import, image inspect, image prune (pull: registry_client)."""

from __future__ import annotations

import sys

from berth.cli.commands.container import FORMAT_HELP, confirm, filters_json, print_inspect
from berth.cli.formatter import IMAGES_TABLE, ImageRow, ellipsis, render, trunc_id
from berth.cli.imageref import split_ref
from berth.cli.pflag import Command, StatusError
from berth.cli.progress import Progress
from berth.cli.units import ago, human_size

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any

    from berth.cli.main import Cli

IMAGES = (Command("images", "berth images [OPTIONS] [REPOSITORY[:TAG]]", "List images", max_args=1)
          .flag("-a, --all", help="Show all images (default hides intermediate images)")
          .flag("--digests", help="Show digests")
          .flag("-f, --filter", "list", help="Filter output based on conditions provided")
          .flag("--format", "value", "", help=FORMAT_HELP)
          .flag("--no-trunc", help="Don't truncate output")
          .flag("-q, --quiet", help="Only show image IDs"))


def images(cli: Cli, argv: list[str]) -> int:
    ns = IMAGES.parse(argv)
    filters = list(ns.filter)
    if ns.args:
        filters.append(f"reference={ns.args[0]}")
    data = cli.client.get("/images/json", all=ns.all or None, filters=filters_json(filters, IMAGES))
    rows = ImageRow.rows(data, trunc=not ns.no_trunc)
    if ns.quiet:
        cli.out("".join(f"{r.ID}\n" for r in rows))
        return 0
    default = IMAGES_TABLE
    if ns.digests:
        default = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    cli.out(render(ns.format, rows, ImageRow.HEADERS, default))
    return 0


TAG = Command("tag", "berth tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
              "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", min_args=2, max_args=2)


def tag(cli: Cli, argv: list[str]) -> int:
    ns = TAG.parse(argv)
    repo, tg = split_ref(ns.args[1])
    cli.client.call("POST", f"/images/{ns.args[0]}/tag", {"repo": repo, "tag": tg or "latest"})
    return 0


RMI = (Command("rmi", "berth rmi [OPTIONS] IMAGE [IMAGE...]", "Remove one or more images", min_args=1)
       .flag("-f, --force", help="Force removal of the image")
       .flag("--no-prune", help="Do not delete untagged parents"))


def rmi(cli: Cli, argv: list[str]) -> int:
    from berth.client import APIError
    ns = RMI.parse(argv)
    failed = False
    for name in ns.args:
        try:
            items = cli.client.delete(f"/images/{name}", force=ns.force or None,
                                      noprune=ns.no_prune or None) or []
        except APIError as exc:
            cli.err(f"{exc}\n")
            failed = True
            continue
        for item in items:
            for key in ("Untagged", "Deleted"):
                if item.get(key):
                    cli.out(f"{key}: {item[key]}\n")
    return 1 if failed else 0


HISTORY = (Command("history", "berth history [OPTIONS] IMAGE", "Show the history of an image",
                   min_args=1, max_args=1)
           .flag("--format", "value", "", help=FORMAT_HELP)
           .flag("-H, --human", default=True, help="Print sizes and dates in human readable format")
           .flag("--no-trunc", help="Don't truncate output")
           .flag("-q, --quiet", help="Only show image IDs"))


class HistoryRow:
    """`docker history` fields of one layer entry."""

    HEADERS = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
               "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}

    def __init__(self, h: dict[str, Any], trunc: bool, human: bool) -> None:
        self.h, self.trunc, self.human = h, trunc, human

    @property
    def ID(self) -> str:
        hid = str(self.h.get("Id", ""))
        if hid.startswith("<"):
            return hid
        return trunc_id(hid) if self.trunc else hid

    @property
    def CreatedSince(self) -> str:
        import time
        created = float(self.h.get("Created", 0))
        return ago(created) if self.human else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created))

    CreatedAt = CreatedSince

    @property
    def CreatedBy(self) -> str:
        text = str(self.h.get("CreatedBy", "")).replace("\t", " ")
        return ellipsis(text, 45) if self.trunc else text

    @property
    def Size(self) -> str:
        size = self.h.get("Size", 0) or 0
        return human_size(size) if self.human else str(size)

    @property
    def Comment(self) -> str:
        return str(self.h.get("Comment", ""))

    def as_json(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in self.HEADERS}


def history(cli: Cli, argv: list[str]) -> int:
    ns = HISTORY.parse(argv)
    data = cli.client.get(f"/images/{ns.args[0]}/history") or []
    rows = [HistoryRow(h, not ns.no_trunc, ns.human) for h in data]
    fmt = "{{.ID}}" if ns.quiet else ns.format
    default = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
    cli.out(render(fmt, rows, HistoryRow.HEADERS, default))
    return 0


INSPECT = (Command("image inspect", "berth image inspect [OPTIONS] IMAGE [IMAGE...]",
                   "Display detailed information on one or more images", min_args=1)
           .flag("-f, --format", "value", "", help=FORMAT_HELP))


def inspect_image(cli: Cli, argv: list[str]) -> int:
    ns = INSPECT.parse(argv)
    return print_inspect(cli, ns.args, ["image"], ns.format)


PRUNE = (Command("image prune", "berth image prune [OPTIONS]", "Remove unused images", max_args=0)
         .flag("-a, --all", help="Remove all unused images, not just dangling ones")
         .flag("--filter", "list", help='Provide filter values (e.g. "until=<timestamp>")')
         .flag("-f, --force", help="Do not prompt for confirmation"))


def prune(cli: Cli, argv: list[str]) -> int:
    ns = PRUNE.parse(argv)
    warning = ("WARNING! This will remove all images without at least one container associated to them."
               if ns.all else "WARNING! This will remove all dangling images.")
    if not ns.force and not confirm(cli, warning):
        return 0
    filters = [*ns.filter, f"dangling={'false' if ns.all else 'true'}"]
    report = cli.client.post("/images/prune", filters=filters_json(filters)) or {}
    deleted = report.get("ImagesDeleted") or []
    if deleted:
        lines = [f"{k.lower()}: {v}" for d in deleted for k, v in d.items() if v]
        cli.out("Deleted Images:\n" + "".join(f"{line}\n" for line in lines) + "\n")
    cli.out(f"Total reclaimed space: {human_size(report.get('SpaceReclaimed', 0) or 0)}\n")
    return 0


IMPORT = (Command("import", "berth import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
                  "Import the contents from a tarball to create a filesystem image", min_args=1, max_args=2)
          .flag("-c, --change", "list", help="Apply Dockerfile instruction to the created image")
          .flag("-m, --message", "value", help="Set commit message for imported image")
          .flag("--platform", "value", help="Set platform if server is multi-platform capable"))


def import_(cli: Cli, argv: list[str]) -> int:
    ns = IMPORT.parse(argv)
    source = ns.args[0]
    repo, tg = split_ref(ns.args[1]) if len(ns.args) > 1 else (None, None)
    query = {"fromSrc": "-", "repo": repo, "tag": tg, "message": ns.message, "changes": ns.change or None,
             "platform": ns.platform}
    headers = {"Content-Type": "application/x-tar"}
    if source == "-":
        body: Any = sys.stdin.buffer
    elif "://" in source:
        query["fromSrc"], body = source, None
    else:
        try:
            body = open(source, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise StatusError(1, f"open {source}: {exc.strerror.lower() if exc.strerror else exc}") from None
    progress = _progress(cli)
    try:
        for msg in cli.client.json_stream("POST", "/images/create", query, body, headers):
            progress.show(msg)
    finally:
        if body is not None and body is not sys.stdin.buffer:
            body.close()
    return 0


def _progress(cli: Cli) -> Progress:
    def write(text: str) -> None:
        cli.out(text)
        sys.stdout.flush()
    return Progress(write, sys.stdout.isatty())


def pull_image(cli: Cli, ref: str, quiet: bool = False, platform: str | None = None,
               announce: bool = True) -> None:
    """Pull with progress (`run`/`create` use it for a missing image); see registry_client."""
    from berth.cli.commands.registry_client import pull_image as pull_with_auth
    pull_with_auth(cli, ref, quiet, platform, announce)


__all__ = ["history", "images", "import_", "inspect_image", "prune", "pull_image", "rmi", "tag"]
