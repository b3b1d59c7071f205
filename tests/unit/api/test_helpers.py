"""Pure helpers of the API: query booleans, filters, headers, router patterns, stream formats, errors."""

from __future__ import annotations

import pytest

from berth import errdefs
from berth.api.errors import status_for
from berth.api.http.request import Headers, Query, parse_bool, parse_filters
from berth.api.http.responses import JSONResponse, Response
from berth.api.http.router import Route, Router
from berth.api.middleware import split_version
from berth.api.streams import (
    error_message,
    human_size,
    json_message,
    progress_bar,
    progress_message,
    stdcopy_frame,
)


@pytest.mark.parametrize("value", ["1", "true", "True", "yes", "anything"])
def test_query_true_values(value: str) -> None:
    assert parse_bool(value)


@pytest.mark.parametrize("value", ["0", "false", "False", "", "no", "none", None])
def test_query_false_values(value: str | None) -> None:
    assert not parse_bool(value)


def test_query_multidict() -> None:
    q = Query.parse("names=a&names=b%3Ac&all=1&empty=")
    assert q.get("names") == "a"
    assert q.getall("names") == ["a", "b:c"]
    assert q.bool("all")
    assert not q.bool("empty")
    assert q.bool("missing", default=True)
    assert "empty" in q
    assert q.get("missing") is None


def test_headers_are_case_insensitive() -> None:
    h = Headers([("X-Registry-Auth", "e30="), ("Content-Type", "application/json")])
    assert h.get("x-registry-auth") == "e30="
    assert "CONTENT-TYPE" in h
    assert h.get("nope", "d") == "d"


def test_filters_map_and_list_forms() -> None:
    assert parse_filters('{"label":{"k=v":true},"status":{"exited":true}}') == {
        "label": ["k=v"],
        "status": ["exited"],
    }
    assert parse_filters('{"label":["k=v","x"]}') == {"label": ["k=v", "x"]}
    assert parse_filters("") == {}
    for bad in ("{nope", "[1]", '{"label":"x"}'):
        with pytest.raises(errdefs.InvalidParameter):
            parse_filters(bad)


async def _h(req: object) -> Response:
    return JSONResponse({})


def test_router_static_first_then_patterns_in_order() -> None:
    static, greedy, single = _h, _h, _h

    async def other(req: object) -> Response:
        return JSONResponse({})

    r = Router([Route("GET", "/images/{name:.*}/json", other), Route("GET", "/images/json", static)])
    r.add(Route("DELETE", "/images/{name:.*}", greedy))
    r.add(Route("GET", "/containers/{id}/json", single))
    assert r.match("GET", "/images/json") == (static, {})
    assert r.match("GET", "/images/a/b:c/json") == (other, {"name": "a/b:c"})
    assert r.match("DELETE", "/images/reg:5000/x/y") == (greedy, {"name": "reg:5000/x/y"})
    assert r.match("GET", "/containers/x/y/json") is None
    assert r.match("POST", "/images/json") is None


def test_split_version() -> None:
    assert split_version("/v1.40/info") == ((1, 40), "/info")
    assert split_version("/info") == ((1, 44), "/info")
    assert split_version("/v1.44/_ping") == ((1, 44), "/_ping")
    with pytest.raises(errdefs.InvalidParameter, match="too old"):
        split_version("/v1.24/info")
    with pytest.raises(errdefs.NotFound):
        split_version("/v1/info")


def test_stdcopy_frame_header() -> None:
    assert stdcopy_frame(1, b"hi") == b"\x01\x00\x00\x00\x00\x00\x00\x02hi"
    assert stdcopy_frame(2, b"") == b"\x02\x00\x00\x00\x00\x00\x00\x00"
    assert len(stdcopy_frame(1, b"x" * 70000)) == 70008


def test_jsonmessage_helpers() -> None:
    assert json_message({"status": "x"}) == b'{"status":"x"}\r\n'
    assert error_message("boom") == {"errorDetail": {"message": "boom"}, "error": "boom"}
    assert error_message("exit", 7)["errorDetail"] == {"code": 7, "message": "exit"}
    assert human_size(3645) == "3.645kB"
    assert human_size(300288) == "300.3kB"
    assert human_size(12) == "12B"
    assert progress_bar(3645, 300288) == "[>" + " " * 50 + "]  3.645kB/300.3kB"
    assert progress_bar(300288, 300288).startswith("[" + "=" * 50 + ">]")
    msg = progress_message("Downloading", "d8ad83080657", 3645, 300288)
    assert msg["progressDetail"] == {"current": 3645, "total": 300288}
    assert msg["id"] == "d8ad83080657"
    assert progress_message("Pull complete", "abc") == {
        "status": "Pull complete",
        "progressDetail": {},
        "id": "abc",
    }


def test_status_for_every_kind() -> None:
    assert status_for(errdefs.NotFound("x")) == 404
    assert status_for(errdefs.InvalidParameter("x")) == 400
    assert status_for(errdefs.Conflict("x")) == 409
    assert status_for(errdefs.Unauthorized("x")) == 401
    assert status_for(errdefs.Forbidden("x")) == 403
    assert status_for(errdefs.Unavailable("x")) == 503
    assert status_for(errdefs.NotModified("x")) == 304
    assert status_for(errdefs.NotImplementedErr("x")) == 501
    assert status_for(errdefs.System("x")) == 500
    assert status_for(PermissionError(13, "denied")) == 500
    assert status_for(KeyError("x")) == 500
