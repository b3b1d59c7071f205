"""Docker (pflag) command-line rules on top of argparse: a pre-pass tokenizes, argparse stores values."""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Command", "HelpRequested", "StatusError", "UsageError", "Values", "parse_bool"]

_TRUE = {"1", "t", "T", "true", "TRUE", "True"}
_FALSE = {"0", "f", "F", "false", "FALSE", "False"}


class UsageError(Exception):
    """Bad flags (exit status 125) or a wrong argument count (1); text() is docker's full message."""

    def __init__(self, message: str, command: str, status: int = 125, usage: str = "") -> None:
        super().__init__(message)
        self.command = command
        self.status = status
        self.usage = usage

    def text(self) -> str:
        usage = f"\n\nUsage:  {self.usage}" if self.usage else ""
        return f"{self}{usage}\n\nRun 'berth {self.command} --help' for more information\n"


class HelpRequested(Exception):
    """--help was given: the text to print."""


class StatusError(Exception):
    """End the command with this exit status (and an optional message on stderr)."""

    def __init__(self, status: int, message: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def parse_bool(value: str, flag: str) -> bool:
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f'invalid argument "{value}" for "{flag}" flag: strconv.ParseBool: parsing '
                     f'"{value}": invalid syntax')


class Values:
    """Parsed flag values as attributes (argparse fills it in when value flags are given)."""

    args: list[str]

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


class Opt:
    """One flag: short/long names, kind (bool, value, list, int) and help."""

    def __init__(self, short: str | None, long: str, kind: str, dest: str, default: Any, help: str,
                 hidden: bool = False) -> None:
        self.short, self.long, self.kind, self.dest = short, long, kind, dest
        self.default, self.help, self.hidden = default, help, hidden

    @property
    def label(self) -> str:
        return f"-{self.short}, --{self.long}" if self.short else f"--{self.long}"


class Command:
    """A docker-style command: flags, positional argument counts, usage and help texts."""

    def __init__(self, name: str, usage: str, desc: str, interspersed: bool = True, min_args: int = 0,
                 max_args: int | None = None) -> None:
        self.name, self.usage, self.desc = name, usage, desc
        self.interspersed, self.min_args, self.max_args = interspersed, min_args, max_args
        self.opts: list[Opt] = []

    def flag(self, names: str, kind: str = "bool", default: Any = None, help: str = "",
             dest: str | None = None, hidden: bool = False) -> Command:
        """names like "-a, --all" or "--rm"; kind: bool | value | list | int."""
        short, long = None, ""
        for part in names.replace(",", " ").split():
            if part.startswith("--"):
                long = part[2:]
            else:
                short = part[1:]
        if default is None:
            default = {"bool": False, "list": []}.get(kind)
        name = dest or long.replace("-", "_")
        self.opts.append(Opt(short, long, kind, name, default, help, hidden))
        return self

    # -- parsing -----------------------------------------------------------------------------
    def _lookup(self) -> tuple[dict[str, Opt], dict[str, Opt]]:
        return {o.long: o for o in self.opts}, {o.short: o for o in self.opts if o.short}

    def prepass(self, argv: list[str]) -> tuple[list[str], list[str], dict[str, bool]]:
        """Split argv pflag's way into (argparse-ready value flags, positionals, bool values)."""
        longs, shorts = self._lookup()
        flags: list[str] = []
        positionals: list[str] = []
        bools: dict[str, bool] = {}
        i = 0
        while i < len(argv):
            arg = argv[i]
            i += 1
            if arg == "--":
                positionals += argv[i:]
                break
            if arg.startswith("--") and len(arg) > 2:
                name, eq, value = arg[2:].partition("=")
                opt = longs.get(name)
                if opt is None:
                    if name == "help":
                        raise HelpRequested(self.help_text())
                    raise self.flag_error(f"unknown flag: --{name}")
                if opt.kind == "bool":
                    bools[opt.dest] = self._bool(value, opt) if eq else True
                    continue
                if not eq:
                    if i >= len(argv):
                        raise self.flag_error(f"flag needs an argument: --{name}")
                    value, i = argv[i], i + 1
                flags.append(self._value(opt, value))
            elif arg.startswith("-") and len(arg) > 1:
                i = self._shorts(arg, argv, i, shorts, flags, bools)
            elif not self.interspersed:
                positionals += argv[i - 1:]
                break
            else:
                positionals.append(arg)
        return flags, positionals, bools

    def _shorts(self, arg: str, argv: list[str], i: int, shorts: dict[str, Opt], flags: list[str],
                bools: dict[str, bool]) -> int:
        cluster = arg[1:]
        j = 0
        while j < len(cluster):
            c = cluster[j]
            opt = shorts.get(c)
            if opt is None:
                if c == "h":
                    raise HelpRequested(self.help_text())
                raise self.flag_error(f"unknown shorthand flag: '{c}' in {arg}")
            rest = cluster[j + 1:]
            if opt.kind == "bool":
                if rest.startswith("="):
                    bools[opt.dest] = self._bool(rest[1:], opt)
                    return i
                bools[opt.dest] = True
                j += 1
                continue
            if rest:
                value = rest.removeprefix("=")
            elif i < len(argv):
                value, i = argv[i], i + 1
            else:
                raise self.flag_error(f"flag needs an argument: '{c}' in -{c}")
            flags.append(self._value(opt, value))
            return i
        return i

    def _value(self, opt: Opt, value: str) -> str:
        if opt.kind == "int":
            try:
                int(value)
            except ValueError:
                raise self.flag_error(f'invalid argument "{value}" for "{opt.label}" flag: '
                                      f'strconv.ParseInt: parsing "{value}": invalid syntax') from None
        return f"--{opt.long}={value}"

    def flag_error(self, message: str) -> UsageError:
        """A flag error of this command (exit status 125, usage shown)."""
        return UsageError(message, self.name, 125, self.usage)

    def _bool(self, value: str, opt: Opt) -> bool:
        try:
            return parse_bool(value, opt.label)
        except ValueError as exc:
            raise self.flag_error(str(exc)) from None

    def parse(self, argv: list[str]) -> Values:
        """Parse argv; positionals land in `.args`. argparse stores the value flags."""
        flags, positionals, bools = self.prepass(argv)
        ns = Values()
        for o in self.opts:
            if o.kind == "bool":
                setattr(ns, o.dest, bools.get(o.dest, o.default))
        if flags:
            self._store(flags, ns)
        for o in self.opts:
            if not hasattr(ns, o.dest):
                setattr(ns, o.dest, list(o.default) if o.kind == "list" else o.default)
        ns.args = positionals
        self._check_count(positionals)
        return ns

    def _store(self, flags: list[str], ns: Values) -> None:
        import argparse  # only when value flags are given: it costs start-up time
        parser = argparse.ArgumentParser(prog=self.name, add_help=False, exit_on_error=False)
        for o in self.opts:
            if o.kind == "bool":
                continue
            action = "append" if o.kind == "list" else "store"
            default = list(o.default) if o.kind == "list" else o.default
            parser.add_argument(f"--{o.long}", dest=o.dest, action=action, default=default,
                                type=int if o.kind == "int" else str)
        try:
            parser.parse_args(flags, namespace=ns)
        except argparse.ArgumentError as exc:
            raise self.flag_error(f"invalid argument for {exc.argument_name} flag") from None

    def _check_count(self, args: list[str]) -> None:
        lo, hi = self.min_args, self.max_args
        plural = "argument" if lo == 1 else "arguments"
        if lo == hi and len(args) != lo:
            need, verb = (f"requires {lo} {plural}" if lo else "accepts no arguments"), "Run"
        elif len(args) < lo:
            need, verb = f"requires at least {lo} {plural}", "See"
        elif hi is not None and len(args) > hi:
            need, verb = ("accepts no arguments" if hi == 0 else
                          f"requires at most {hi} argument{'s' if hi > 1 else ''}"), "Run"
        else:
            return
        raise UsageError(f"berth: 'berth {self.name}' {need}\n\nUsage:  {self.usage}\n\n{verb} "
                         f"'berth {self.name} --help' for more information", self.name, status=1)

    def help_text(self) -> str:
        lines = [f"\nUsage:  {self.usage}\n", self.desc, ""]
        visible = [o for o in self.opts if not o.hidden]
        if visible:
            lines.append("Options:")
            width = max(len(self._left(o)) for o in visible)
            for o in sorted(visible, key=lambda o: o.long):
                lines.append(f"  {self._left(o).ljust(width)}   {o.help}")
        return "\n".join(lines) + "\n"

    @staticmethod
    def _left(o: Opt) -> str:
        short = f"-{o.short}, " if o.short else "    "
        kind = {"bool": "", "int": " int", "list": " list"}.get(o.kind, " string")
        return f"{short}--{o.long}{kind}"
