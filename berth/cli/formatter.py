"""docker's list output: tabwriter tables, --format handling, and the ps/images row contexts."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping

from berth.cli.templates import Template
from berth.cli.units import ago, human_size

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any

__all__ = ["ContainerRow", "ImageRow", "ellipsis", "render", "tabwrite", "trunc_id"]

PS_TABLE = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
IMAGES_TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"


def trunc_id(value: str) -> str:
    """TruncateID: strip the algorithm prefix, keep 12 characters."""
    return value.split(":", 1)[-1][:12]


def ellipsis(text: str, width: int) -> str:
    """Cut to `width` characters, the last one being "…" when cut."""
    if len(text) <= width:
        return text
    return text[:max(width - 1, 0)] + "…"


def go_quote(text: str) -> str:
    """strconv.Quote for the common cases."""
    return json.dumps(text, ensure_ascii=False)


def tabwrite(text: str, minwidth: int = 10, padding: int = 3) -> str:
    """Go's tabwriter (minwidth 10, tabwidth 1, padding 3, spaces): align tab-terminated cells."""
    rows = [line.split("\t") for line in text.split("\n")]
    widths: dict[int, int] = {}
    for cells in rows:
        for i, cell in enumerate(cells[:-1]):
            widths[i] = max(widths.get(i, minwidth), len(cell) + padding)
    out = []
    for cells in rows:
        line = "".join(cell.ljust(widths[i]) for i, cell in enumerate(cells[:-1])) + cells[-1]
        out.append(line)
    return "\n".join(out)


def render(fmt: str, rows: Iterable[Any], headers: Mapping[str, str], default: str) -> str:
    """Apply a --format (empty = default table, "table ...", "json", or a Go template) to rows."""
    fmt = fmt or default
    if fmt == "json":
        fmt = "{{json .}}"
    fmt = fmt.replace("\\t", "\t").replace("\\n", "\n")
    table = fmt.startswith("table")
    offset = 0
    if table:
        rest = fmt[5:].lstrip(" ")
        offset = len(fmt) - len(rest) if rest else 6
        fmt = rest or default[6:]
    tmpl = Template(fmt, offset=offset)
    parts = []
    if table:
        parts.append(tmpl.execute(dict(headers)) + "\n")
    for row in rows:
        parts.append(tmpl.execute(row) + "\n")
    text = "".join(parts)
    return tabwrite(text) if table else text


def _group_text(key: str, first: int, last: int) -> str:
    ip, _, proto = key.rpartition("/")
    ports = str(first) if first == last else f"{first}-{last}"
    return f"{ip}:{ports}->{ports}/{proto}" if ip else f"{ports}/{proto}"


def displayable_ports(ports: Iterable[Mapping[str, Any]]) -> str:
    """docker's DisplayablePorts: unpublished ports grouped into ranges, then the host mappings."""
    ordered = sorted(ports, key=lambda p: (p.get("PrivatePort", 0), p.get("IP") or "",
                                           p.get("PublicPort") or 0, p.get("Type", "")))
    groups: dict[str, list[int]] = {}
    result: list[str] = []
    mappings: list[str] = []
    for p in ordered:
        private, proto, ip = int(p.get("PrivatePort", 0)), p.get("Type", "tcp"), p.get("IP") or ""
        key = proto
        if ip:
            public = int(p.get("PublicPort") or 0)
            if public != private:
                host = f"[{ip}]" if ":" in ip else ip
                mappings.append(f"{host}:{public}->{private}/{proto}")
                continue
            key = f"{ip}/{proto}"
        group = groups.get(key)
        if group is None:
            groups[key] = [private, private]
        elif private == group[1] + 1:
            group[1] = private
        else:
            result.append(_group_text(key, *group))
            groups[key] = [private, private]
    result += [_group_text(k, *g) for k, g in groups.items()]
    return ", ".join(result + mappings)


class ContainerRow:
    """`docker ps` fields of one container summary."""

    GO_TYPE = "*formatter.ContainerContext"

    HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
               "RunningFor": "CREATED", "Ports": "PORTS", "Status": "STATUS", "Size": "SIZE",
               "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS",
               "State": "STATE", "LocalVolumes": "LOCAL VOLUMES"}
    JSON_EXTRA: dict[str, Any] = {"Platform": None}

    def __init__(self, c: Mapping[str, Any], trunc: bool = True, now: float | None = None) -> None:
        self.c, self.trunc, self.now = c, trunc, now

    @property
    def ID(self) -> str:
        cid = str(self.c.get("Id", ""))
        return trunc_id(cid) if self.trunc else cid

    @property
    def Image(self) -> str:
        image = str(self.c.get("Image", ""))
        if self.trunc and image.startswith("sha256:"):
            return trunc_id(image)
        return image

    @property
    def Command(self) -> str:
        cmd = str(self.c.get("Command", ""))
        return go_quote(ellipsis(cmd, 20) if self.trunc else cmd)

    @property
    def CreatedAt(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S %z %Z", time.localtime(self.c.get("Created", 0)))

    @property
    def RunningFor(self) -> str:
        return ago(float(self.c.get("Created", 0)), self.now)

    @property
    def Ports(self) -> str:
        return displayable_ports(self.c.get("Ports") or [])

    @property
    def Status(self) -> str:
        return str(self.c.get("Status", ""))

    @property
    def State(self) -> str:
        return str(self.c.get("State", ""))

    @property
    def Size(self) -> str:
        rw, root = self.c.get("SizeRw", 0) or 0, self.c.get("SizeRootFs", 0) or 0
        text = human_size(rw)
        return f"{text} (virtual {human_size(root)})" if root else text

    @property
    def Names(self) -> str:
        names = [n.lstrip("/") for n in self.c.get("Names") or []]
        if self.trunc:
            names = [n for n in names if "/" not in n]
        return ",".join(names)

    @property
    def Labels(self) -> str:
        labels = self.c.get("Labels") or {}
        return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))

    def Label(self, name: str) -> str:
        return str((self.c.get("Labels") or {}).get(name, ""))

    @property
    def Mounts(self) -> str:
        names = [str(m.get("Name") or m.get("Source", "")) for m in self.c.get("Mounts") or []]
        return ",".join(ellipsis(n, 15) if self.trunc else n for n in names)

    @property
    def Networks(self) -> str:
        nets = ((self.c.get("NetworkSettings") or {}).get("Networks") or {})
        return ",".join(sorted(nets))

    @property
    def LocalVolumes(self) -> str:
        return str(sum(1 for m in self.c.get("Mounts") or [] if m.get("Driver") == "local"))

    def as_json(self) -> dict[str, Any]:
        return {**{k: getattr(self, k) for k in self.HEADERS}, **self.JSON_EXTRA}


class ImageRow:
    """`docker images` fields of one (image, tag) pair."""

    GO_TYPE = "*formatter.imageContext"

    HEADERS = {"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
               "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
               "Containers": "CONTAINERS", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
               "VirtualSize": "SIZE"}
    JSON_EXTRA: dict[str, Any] = {}

    def __init__(self, image: Mapping[str, Any], repo: str, tag: str, trunc: bool = True,
                 now: float | None = None, digest: str = "<none>") -> None:
        self.i, self.Repository, self.Tag, self.trunc, self.now = image, repo, tag, trunc, now
        self.Digest = digest

    @property
    def ID(self) -> str:
        iid = str(self.i.get("Id", ""))
        return trunc_id(iid) if self.trunc else iid

    @property
    def CreatedSince(self) -> str:
        return ago(float(self.i.get("Created", 0)), self.now)

    @property
    def CreatedAt(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S %z %Z", time.localtime(self.i.get("Created", 0)))

    @property
    def Size(self) -> str:
        return human_size(self.i.get("Size", 0) or 0)

    @property
    def VirtualSize(self) -> str:
        return human_size(self.i.get("Size", 0) or 0, 4)

    @property
    def Containers(self) -> str:
        n = self.i.get("Containers", -1)
        return "N/A" if n is None or n < 0 else str(n)

    @property
    def SharedSize(self) -> str:
        n = self.i.get("SharedSize", -1)
        return "N/A" if n is None or n < 0 else human_size(n)

    @property
    def UniqueSize(self) -> str:
        shared = self.i.get("SharedSize", -1)
        return "N/A" if shared is None or shared < 0 else human_size(self.i.get("Size", 0) - shared)

    def as_json(self) -> dict[str, Any]:
        return {**{k: getattr(self, k) for k in self.HEADERS}, **self.JSON_EXTRA}

    @classmethod
    def rows(cls, images: Iterable[Mapping[str, Any]], trunc: bool = True,
             now: float | None = None) -> list[ImageRow]:
        out = []
        for img in images:
            tags = [t for t in img.get("RepoTags") or [] if t != "<none>:<none>"]
            digests = [d for d in img.get("RepoDigests") or [] if d != "<none>@<none>"]
            by_repo = {}
            for d in reversed(digests):
                by_repo[d.split("@", 1)[0]] = d.split("@", 1)[1]
            if not tags:
                repo = digests[0].split("@", 1)[0] if digests else "<none>"
                out.append(cls(img, repo, "<none>", trunc, now, by_repo.get(repo, "<none>")))
            for ref in tags:
                repo, _, tag = ref.rpartition(":")
                if "/" in tag or not repo:
                    repo, tag = ref, "<none>"
                out.append(cls(img, repo, tag, trunc, now, by_repo.get(repo, "<none>")))
        return out
