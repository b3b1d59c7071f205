"""Registry commands: pull, push, login, logout; credentials kept in docker's config.json `auths`."""

from __future__ import annotations

import sys

from berth.cli.imageref import split_ref
from berth.cli.pflag import Command, StatusError
from berth.cli.progress import Progress

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any

    from berth.cli.main import Cli

__all__ = ["login", "logout", "pull", "pull_image", "push"]

HUB_SERVER = "https://index.docker.io/v1/"


# -- docker's client config (~/.docker/config.json, or $DOCKER_CONFIG/config.json) ---------------------
def config_path() -> str:
    import os
    base = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return os.path.join(base, "config.json")


def _read_config() -> dict[str, Any]:
    import json
    try:
        with open(config_path(), "rb") as f:
            doc = json.load(f)
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise StatusError(1, f"loading config file {config_path()}: {exc}") from None
    return doc if isinstance(doc, dict) else {}


def _write_config(doc: dict[str, Any]) -> None:
    import json
    import os
    path = config_path()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = f"{path}.tmp.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent="\t")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def server_key(server: str) -> str:
    """The `auths` key docker uses: Docker Hub's v1 URL, else the registry's host[:port]."""
    text = server.strip()
    for prefix in ("https://", "http://"):
        text = text.removeprefix(prefix)
    host = text.split("/", 1)[0]
    if not host or host in ("docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"):
        return HUB_SERVER
    return host


def _domain(ref: str) -> str:
    first, sep, _rest = ref.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def auth_header(server: str) -> str:
    """X-Registry-Auth for `server`: base64url(JSON AuthConfig), `e30=` ({}) when not logged in."""
    import base64
    import json
    key = server_key(server)
    entry = (_read_config().get("auths") or {}).get(key) or {}
    auth: dict[str, str] = {}
    if entry.get("auth"):
        try:
            user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        except ValueError:
            user = password = ""
        auth = {"username": user, "password": password, "serveraddress": key}
    if entry.get("identitytoken"):
        auth["identitytoken"] = entry["identitytoken"]
    if not auth:
        return "e30="
    return base64.urlsafe_b64encode(json.dumps(auth).encode()).decode()


# -- pull / push ----------------------------------------------------------------------------------------
def _progress(cli: Cli) -> Progress:
    def write(text: str) -> None:
        cli.out(text)
        sys.stdout.flush()
    return Progress(write, sys.stdout.isatty())


def _full_name(repo: str) -> str:
    domain = _domain(repo)
    if domain != "docker.io":
        return repo
    path = repo.removeprefix("docker.io/")
    return "docker.io/" + (path if "/" in path else "library/" + path)


def _stream(cli: Cli, path: str, query: dict[str, Any], server: str, quiet: bool) -> None:
    progress = _progress(cli)
    headers = {"X-Registry-Auth": auth_header(server)}
    for msg in cli.client.json_stream("POST", path, query, headers=headers):
        if not quiet or msg.get("error") or msg.get("errorDetail"):
            progress.show(msg)


def pull_image(cli: Cli, ref: str, quiet: bool = False, platform: str | None = None,
               announce: bool = True, all_tags: bool = False) -> None:
    repo, tag = split_ref(ref)
    if all_tags and tag:
        raise StatusError(1, "tag can't be used with --all-tags/-a")
    if not tag and not all_tags:
        tag = "latest"
        if announce:
            cli.out("Using default tag: latest\n")
    _stream(cli, "/images/create", {"fromImage": repo, "tag": tag, "platform": platform}, _domain(repo), quiet)


PULL = (Command("pull", "berth pull [OPTIONS] NAME[:TAG|@DIGEST]", "Download an image from a registry",
                min_args=1, max_args=1)
        .flag("-a, --all-tags", help="Download all tagged images in the repository")
        .flag("--disable-content-trust", default=True, help="Skip image verification (default true)")
        .flag("--platform", "value", help="Set platform if server is multi-platform capable")
        .flag("-q, --quiet", help="Suppress verbose output"))


def pull(cli: Cli, argv: list[str]) -> int:
    ns = PULL.parse(argv)
    ref = ns.args[0]
    pull_image(cli, ref, ns.quiet, ns.platform, all_tags=ns.all_tags)
    repo, tag = split_ref(ref)
    sep = "@" if "@" in ref else ":"
    shown = _full_name(repo) + ("" if ns.all_tags else f"{sep}{tag or 'latest'}")
    cli.out(shown + "\n")
    return 0


PUSH = (Command("push", "berth push [OPTIONS] NAME[:TAG]", "Upload an image to a registry", min_args=1, max_args=1)
        .flag("-a, --all-tags", help="Push all tags of an image to the repository")
        .flag("--disable-content-trust", default=True, help="Skip image signing (default true)")
        .flag("-q, --quiet", help="Suppress verbose output"))


def push(cli: Cli, argv: list[str]) -> int:
    ns = PUSH.parse(argv)
    ref = ns.args[0]
    repo, tag = split_ref(ref)
    if "@" in ref:
        raise StatusError(1, f"invalid reference format: cannot push a digest reference ({ref})")
    if ns.all_tags and tag:
        raise StatusError(1, "tag can't be used with --all-tags/-a")
    if not tag and not ns.all_tags:
        tag = "latest"
        cli.out("Using default tag: latest\n")
    _stream(cli, f"/images/{repo}/push", {"tag": tag}, _domain(repo), ns.quiet)
    if ns.quiet:
        cli.out(_full_name(repo) + (f":{tag}" if tag else "") + "\n")
    return 0


# -- login / logout ---------------------------------------------------------------------------------------
LOGIN = (Command("login", "berth login [OPTIONS] [SERVER]",
                 "Authenticate to a registry.\nDefaults to Docker Hub if no server is specified.", max_args=1)
         .flag("-p, --password", "value", help="Password or Personal Access Token (PAT)")
         .flag("--password-stdin", help="Take the Password or Personal Access Token (PAT) from stdin")
         .flag("-u, --username", "value", help="Username"))


def _ask(prompt: str, secret: bool) -> str:
    import getpass
    if secret:
        return getpass.getpass(prompt)
    sys.stdout.write(prompt)
    sys.stdout.flush()
    return sys.stdin.readline().rstrip("\n")


def login(cli: Cli, argv: list[str]) -> int:
    import base64
    ns = LOGIN.parse(argv)
    server = ns.args[0] if ns.args else HUB_SERVER
    username, password = ns.username or "", ns.password or ""
    if ns.password and ns.password_stdin:
        raise StatusError(1, "--password and --password-stdin are mutually exclusive")
    if ns.password:
        cli.err("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n")
    if ns.password_stdin:
        if not username:
            raise StatusError(1, "Must provide --username with --password-stdin")
        password = sys.stdin.read().rstrip("\r\n")
    if not username or not password:
        if not sys.stdin.isatty():
            raise StatusError(1, "Error: Cannot perform an interactive login from a non TTY device")
        username = username or _ask("Username: ", False).strip()
        password = password or _ask("Password: ", True)
    if not username:
        raise StatusError(1, "Error: Non-null Username Required")
    if not password:
        raise StatusError(1, "Error: Password Required")
    key = server_key(server)
    reply = cli.client.post("/auth", {"username": username, "password": password, "serveraddress": key}) or {}
    doc = _read_config()
    auths = doc.setdefault("auths", {})
    entry: dict[str, str] = {"auth": base64.b64encode(f"{username}:{password}".encode()).decode()}
    if reply.get("IdentityToken"):
        entry = {"auth": base64.b64encode(f"{username}:".encode()).decode(), "identitytoken": reply["IdentityToken"]}
    auths[key] = entry
    _write_config(doc)
    cli.err(f"WARNING! Your credentials are stored unencrypted in '{config_path()}'.\n"
            "Configure a credential helper to remove this warning. See\n"
            "https://docs.docker.com/go/credential-store/\n\n")
    cli.out(f"{reply.get('Status') or 'Login Succeeded'}\n")
    return 0


LOGOUT = Command("logout", "berth logout [SERVER]",
                 "Log out from a registry.\nIf no server is specified, the default is defined by the daemon.",
                 max_args=1)


def logout(cli: Cli, argv: list[str]) -> int:
    ns = LOGOUT.parse(argv)
    key = server_key(ns.args[0]) if ns.args else HUB_SERVER
    doc = _read_config()
    auths = doc.get("auths") or {}
    if key not in auths:
        cli.out(f"Not logged in to {key}\n")
        return 0
    cli.out(f"Removing login credentials for {key}\n")
    del auths[key]
    _write_config(doc)
    return 0
