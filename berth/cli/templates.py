"""A subset of Go text/template as docker's --format uses it: fields, pipelines, funcs, range/if/with."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any

__all__ = ["NO_VALUE", "Template", "TemplateError", "go_str", "to_json"]

NO_VALUE = "<no value>"
_TOKEN = re.compile(r'\s*("(?:[^"\\]|\\.)*"|`[^`]*`|\(|\)|\||:=|,|[^\s()|,]+)')
_MISSING = object()


class TemplateError(Exception):
    """The template cannot be parsed or executed; str() starts with Go's ":line:col:" position."""

    executing = False  # set for errors raised while running a parsed template
    prefix = "template parsing error"  # what docker's command prints before "template: ..."


class _FieldError(TemplateError):
    """A field lookup failed; the caller adds the position and the field chain."""


class _Tok(str):
    """A pipeline token that remembers its offset in the template text."""

    pos = 0


def to_json(value: Any) -> str:
    """docker's `json` function: compact, keys sorted (Go maps), no HTML escaping; list rows
    (objects with as_json) go through Go's json.Marshal, which escapes <, > and &."""
    if hasattr(value, "as_json"):
        text = json.dumps(value.as_json(), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return json.dumps(_go_order(value), separators=(",", ":"), ensure_ascii=False,
                      default=lambda o: getattr(o, "as_json", lambda: str(o))())


def _go_order(value: Any) -> Any:
    """Key order as Go marshals: struct-like objects keep field order, maps are sorted."""
    if isinstance(value, Mapping):
        keys = list(value) if any(str(k)[:1].isupper() for k in value) else sorted(value)
        return {k: _go_order(value[k]) for k in keys}
    if isinstance(value, list):
        return [_go_order(v) for v in value]
    return value


def go_str(value: Any) -> str:
    """How Go's fmt prints a JSON-decoded value with %v."""
    if value is _MISSING:
        return NO_VALUE
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_str(v) for v in value) + "]"
    if isinstance(value, Mapping):
        if _structlike(value):
            return "{" + " ".join(go_str(v) for v in value.values()) + "}"
        return "map[" + " ".join(f"{k}:{go_str(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def _structlike(value: Mapping[str, Any]) -> bool:
    """A JSON object decoded from a Go struct (PascalCase keys) rather than a Go map."""
    return bool(value) and all(str(k)[:1].isupper() for k in value)


def _truth(value: Any) -> bool:
    return value is not _MISSING and bool(value)


def _printf(fmt: str, *args: Any) -> str:
    py = re.sub(r"%[-+# 0-9.]*[vdsfqtx]", lambda m: m.group(0)[:-1] + (
        "r" if m.group(0)[-1] == "q" else "s" if m.group(0)[-1] in "vt" else m.group(0)[-1]), fmt)
    conv = tuple(go_str(a) if not isinstance(a, int | float) or isinstance(a, bool) else a for a in args)
    return py % conv


def _index(value: Any, *keys: Any) -> Any:
    for key in keys:
        if value is None or value is _MISSING:
            return _MISSING
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return value


FUNCS: dict[str, Callable[..., Any]] = {
    "json": to_json,
    "lower": lambda s: go_str(s).lower(),
    "upper": lambda s: go_str(s).upper(),
    "title": lambda s: go_str(s).title(),
    "split": lambda s, sep: go_str(s).split(sep),
    "join": lambda seq, sep: sep.join(go_str(v) for v in (seq or [])),
    "index": _index,
    "len": lambda v: len(v) if v not in (None, _MISSING) else 0,
    "print": lambda *a: "".join(go_str(v) for v in a),
    "println": lambda *a: " ".join(go_str(v) for v in a) + "\n",
    "printf": _printf,
    "pad": lambda s, left, right: " " * int(left) + go_str(s) + " " * int(right),
    "truncate": lambda s, n: go_str(s)[:int(n)],
    "eq": lambda a, *bs: any(a == b for b in bs),
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "not": lambda a: not _truth(a),
    "and": lambda *a: next((v for v in a if not _truth(v)), a[-1]),
    "or": lambda *a: next((v for v in a if _truth(v)), a[-1]),
}


def _lex_actions(text: str) -> list[tuple[str, str, int]]:
    """Split into ("text", s, offset) and ("action", inner, offset) honouring {{- and -}} trimming."""
    out: list[tuple[str, str, int]] = []
    pos = 0
    while (start := text.find("{{", pos)) >= 0:
        end = text.find("}}", start)
        if end < 0:
            raise TemplateError(f":{text.count(chr(10), 0, start) + 1}: unclosed action")
        inner = text[start + 2:end]
        lit = text[pos:start]
        offset = start + 2
        if inner.startswith("- "):
            lit, inner, offset = lit.rstrip(), inner[1:], offset + 1
        pos = end + 2
        if inner.endswith(" -"):
            inner = inner[:-1]
            while pos < len(text) and text[pos].isspace():
                pos += 1
        offset += len(inner) - len(inner.lstrip())
        out += [("text", lit, 0), ("action", inner.strip(), offset)]
    out.append(("text", text[pos:], 0))
    return out


class Template:
    """A parsed template; execute(data) returns the output text."""

    def __init__(self, text: str, funcs: Mapping[str, Callable[..., Any]] | None = None,
                 strict: bool = False, offset: int = 0) -> None:
        self.funcs = {**FUNCS, **(funcs or {})}
        self._offset = offset  # where `text` starts in what the user typed (after "table ")
        self.strict = strict  # docker inspect: a key missing from a struct-like object is an error
        self._text = text
        self._items = _lex_actions(text)
        self._pos = 0
        self.root, stop = self._parse_list()
        if stop is not None:
            raise TemplateError(f":1: unexpected {{{{{stop}}}}}")

    # -- parsing -----------------------------------------------------------------------------
    def _parse_list(self) -> tuple[list[Any], str | None]:
        nodes: list[Any] = []
        while self._pos < len(self._items):
            kind, val, offset = self._items[self._pos]
            self._pos += 1
            if kind == "text":
                if val:
                    nodes.append(val)
                continue
            word = val.split(None, 1)[0] if val else ""
            if word in ("end", "else"):
                return nodes, val
            if word in ("range", "if", "with"):
                rest = val[len(word):].strip()
                nodes.append(self._parse_block(word, rest, offset + val.find(rest, len(word))))
            elif not val.startswith("/*"):
                nodes.append(("action", self._pipeline(val, offset)))
        return nodes, None

    def _parse_block(self, word: str, rest: str, base: int) -> tuple[Any, ...]:
        names: list[str] = []
        m = re.match(r"^(\$\w*)\s*(?:,\s*(\$\w*)\s*)?:=(.*)$", rest)
        if m:
            names = [n for n in (m.group(1), m.group(2)) if n]
            rest, base = m.group(3), base + m.start(3)
        body, stop = self._parse_list()
        orelse: list[Any] = []
        if stop is not None and stop.startswith("else"):
            tail = stop[4:].strip()
            if tail.startswith("if "):
                orelse = [self._parse_block("if", tail[3:].strip(), base)]
                stop = "end"
            else:
                orelse, stop = self._parse_list()
        if stop != "end":
            raise TemplateError(":1: unexpected EOF")
        return (word, names, self._pipeline(rest, base), body, orelse)

    def _pipeline(self, text: str, base: int = 0) -> list[list[Any]]:
        tokens = []
        for m in _TOKEN.finditer(text):
            tok = _Tok(m.group(1))
            tok.pos = base + m.start(1)
            tokens.append(tok)
        cmds: list[list[Any]] = [[]]
        stack = [cmds]
        for tok in tokens:
            if tok == "|":
                stack[-1].append([])
            elif tok == "(":
                sub: list[list[Any]] = [[]]
                stack[-1][-1].append(("sub", sub))
                stack.append(sub)
            elif tok == ")":
                stack.pop()
            elif tok != ",":
                stack[-1][-1].append(tok)
        if any(not c for c in cmds):
            raise TemplateError(f":1: missing value for command in {text!r}")
        return cmds

    # -- execution ---------------------------------------------------------------------------
    def execute(self, data: Any) -> str:
        out: list[str] = []
        try:
            self._run(self.root, data, {"$": data}, out)
        except TemplateError as exc:
            exc.executing = True
            raise
        return "".join(out)

    def _run(self, nodes: list[Any], dot: Any, env: dict[str, Any], out: list[str]) -> None:
        for node in nodes:
            if isinstance(node, str):
                out.append(node)
            elif node[0] == "action":
                out.append(go_str(self._eval_pipe(node[1], dot, env)))
            else:
                self._block(node, dot, env, out)

    def _block(self, node: tuple[Any, ...], dot: Any, env: dict[str, Any], out: list[str]) -> None:
        word, names, pipe, body, orelse = node
        value = self._eval_pipe(pipe, dot, env)
        if word == "range":
            items = sorted(value.items()) if isinstance(value, Mapping) else \
                list(enumerate(value)) if _truth(value) else []
            for key, elem in items:
                scope = dict(env)
                if len(names) == 2:
                    scope[names[0]], scope[names[1]] = key, elem
                elif names:
                    scope[names[0]] = elem
                self._run(body, elem, scope, out)
            if not items:
                self._run(orelse, dot, env, out)
            return
        scope = dict(env)
        if names:
            scope[names[0]] = value
        if _truth(value):
            self._run(body, value if word == "with" else dot, scope, out)
        else:
            self._run(orelse, dot, env, out)

    def _eval_pipe(self, cmds: list[list[Any]], dot: Any, env: dict[str, Any]) -> Any:
        value: Any = _MISSING
        for i, cmd in enumerate(cmds):
            value = self._eval_cmd(cmd, dot, env, None if i == 0 else [value])
        return value

    def _eval_cmd(self, cmd: list[Any], dot: Any, env: dict[str, Any], piped: list[Any] | None) -> Any:
        head = cmd[0]
        if isinstance(head, str) and head in self.funcs:
            args = [self._operand(t, dot, env) for t in cmd[1:]] + (piped or [])
            try:
                return self.funcs[head](*args)
            except TemplateError:
                raise
            except Exception as exc:
                raise TemplateError(f":1: error calling {head}: {exc}") from None
        if (len(cmd) > 1 or piped) and isinstance(head, str) and head.startswith(".") and head != ".":
            return self._method(head, cmd[1:], dot, env, piped or [])
        if len(cmd) > 1 or piped:
            raise TemplateError(f":1: can't give argument to non-function {head}")
        return self._operand(head, dot, env)

    def _method(self, head: str, args: list[Any], dot: Any, env: dict[str, Any], piped: list[Any]) -> Any:
        """{{.Label "k"}}: a method of a row object called with arguments."""
        owner, _, name = head.rpartition(".")
        target = _fields(dot, owner[1:].split(".") if owner else [], self.strict)
        fn = getattr(target, name, None)
        if not callable(fn):
            raise TemplateError(f":1: can't give argument to non-function {head}")
        return fn(*[self._operand(t, dot, env) for t in args], *piped)

    def _operand(self, tok: Any, dot: Any, env: dict[str, Any]) -> Any:
        if isinstance(tok, tuple):
            return self._eval_pipe(tok[1], dot, env)
        if tok[0] in "\"`":
            return json.loads(tok) if tok[0] == '"' else tok[1:-1]
        if tok[0] in ".$":
            try:
                if tok[0] == ".":
                    return _fields(dot, tok[1:].split(".") if tok != "." else [], self.strict)
                var, _, path = tok.partition(".")
                if var not in env:
                    raise TemplateError(f':1: undefined variable "{var}"')
                return _fields(env[var], path.split(".") if path else [], self.strict)
            except _FieldError as exc:
                raise TemplateError(f'{self._where(tok)} executing "" at <{tok}>: {exc}') from None
        if tok in ("true", "false"):
            return tok == "true"
        if tok == "nil":
            return None
        if re.fullmatch(r"-?\d+", tok):
            return int(tok)
        if re.fullmatch(r"-?\d*\.\d+", tok):
            return float(tok)
        raise TemplateError(f':1: function "{tok}" not defined')

    def _where(self, tok: str) -> str:
        """Go's ":line:col:" of a field chain: a chain is placed at its second element."""
        pos = getattr(tok, "pos", 0)
        second = tok.find(".", 1)
        if second > 0:
            pos += second
        line_start = self._text.rfind("\n", 0, pos) + 1
        col = pos - line_start + (self._offset if line_start == 0 else 0)
        return f":{self._text.count(chr(10), 0, pos) + 1}:{col}:"


def _fields(value: Any, names: list[str], strict: bool = False) -> Any:
    for name in names:
        if value is _MISSING or value is None:
            return _MISSING if value is _MISSING else None
        if isinstance(value, Mapping):
            if strict and name not in value and _structlike(value):
                raise _FieldError(f'map has no entry for key "{name}"')
            value = value.get(name, _MISSING)
        else:
            attr = getattr(value, name, _MISSING)
            if attr is _MISSING:
                kind = getattr(value, "GO_TYPE", type(value).__name__)
                raise _FieldError(f"can't evaluate field {name} in type {kind}")
            value = attr() if callable(attr) else attr
    return value
