"""`--change` parsing for import/commit: Dockerfile instructions applied to a container config."""

from __future__ import annotations

import pytest

from berth import errdefs
from berth.daemon.images.changes import apply_changes
from berth.oci.image import empty_container_config


def apply(*changes: str) -> dict[str, object]:
    return apply_changes(empty_container_config(), changes)


def test_cmd_and_entrypoint_forms() -> None:
    assert apply("CMD echo hi")["Cmd"] == ["/bin/sh", "-c", "echo hi"]
    assert apply('CMD ["sh", "-c", "x"]')["Cmd"] == ["sh", "-c", "x"]
    c = apply('ENTRYPOINT ["/bin/top"]')
    assert c["Entrypoint"] == ["/bin/top"]
    assert c["Cmd"] is None
    c = apply("CMD -b", 'ENTRYPOINT ["/bin/top"]')
    assert c["Cmd"] == ["/bin/sh", "-c", "-b"]


def test_env_label_expose_volume_user_workdir_onbuild_stopsignal() -> None:
    c = apply(
        'ENV A=1 B="two words"', "ENV C legacy form", "ENV A=3", "LABEL com.x=y other=z",
        "EXPOSE 80 53/udp 8000-8001", "VOLUME /data", 'VOLUME ["/logs"]', "USER nobody",
        "WORKDIR /app", "WORKDIR sub", "ONBUILD run echo hi", "STOPSIGNAL SIGINT",
    )
    assert c["Env"] == ["B=two words", "C=legacy form", "A=3"]
    assert c["Labels"] == {"com.x": "y", "other": "z"}
    assert c["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}}
    assert c["Volumes"] == {"/data": {}, "/logs": {}}
    assert c["User"] == "nobody"
    assert c["WorkingDir"] == "/app/sub"
    assert c["OnBuild"] == ["RUN echo hi"]
    assert c["StopSignal"] == "SIGINT"


def test_instruction_names_are_case_insensitive_and_lines_split() -> None:
    c = apply("env X=1\ncmd true")
    assert c["Env"] == ["X=1"]
    assert c["Cmd"] == ["/bin/sh", "-c", "true"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("RUN echo", "RUN is not a valid change command"),
        ("FROM busybox", "FROM is not a valid change command"),
        ("ONBUILD ONBUILD RUN x", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
        ("ONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger"),
        ("USER a b", "USER requires exactly one argument"),
        ("EXPOSE eighty", "invalid containerPort: eighty"),
        ("VOLUME", "VOLUME specified can not be an empty string"),
    ],
)
def test_invalid_changes(change: str, message: str) -> None:
    with pytest.raises(errdefs.InvalidParameter) as exc:
        apply(change)
    assert str(exc.value) == message


def test_the_base_config_is_not_mutated() -> None:
    base = empty_container_config()
    apply_changes(base, ["ENV A=1"])
    assert base["Env"] is None
