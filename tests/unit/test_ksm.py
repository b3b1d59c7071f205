"""Which mappings the shims mark for same-page merging, and reading whether ksmd runs."""

from __future__ import annotations

from pathlib import Path

from berth.kernel.ksm import ksm_running, mergeable_regions

MAPS = """\
55d0a0000000-55d0a0001000 r--p 00000000 08:01 123 /usr/bin/python3.11
55d0a0200000-55d0a0400000 rw-p 00000000 00:00 0                          [heap]
7f0000000000-7f0000100000 rw-p 00000000 00:00 0
7f0000100000-7f0000120000 rw-p 00415000 08:01 456 /usr/lib/libpython3.11.so.1.0
7f0000200000-7f0000201000 rw-s 00000000 00:05 789 /dev/zero (deleted)
7f0000300000-7f0000301000 r-xp 00000000 08:01 456 /usr/lib/libpython3.11.so.1.0
7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0                          [stack]
7ffc00100000-7ffc00104000 r--p 00000000 00:00 0                          [vvar]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
"""


def test_the_heap_anonymous_memory_and_library_data_are_marked() -> None:
    assert mergeable_regions(MAPS) == [
        (0x55D0A0200000, 0x200000),
        (0x7F0000000000, 0x100000),
        (0x7F0000100000, 0x20000),
    ]


def test_shared_read_only_and_kernel_mappings_and_the_stack_are_not() -> None:
    lines = [ln for ln in MAPS.splitlines() if "rw-p" not in ln or "[stack]" in ln]
    assert mergeable_regions("\n".join(lines)) == []
    assert mergeable_regions("garbage\n\n7f-7e rw-p 0 0 0\n") == []


def test_ksm_running_reads_the_hosts_switch(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.write_text("1\n")
    assert ksm_running(str(run))
    run.write_text("0\n")
    assert not ksm_running(str(run))
    run.write_text("2\n")  # "unmerge everything and stop"
    assert not ksm_running(str(run))
    assert not ksm_running(str(tmp_path / "missing"))
