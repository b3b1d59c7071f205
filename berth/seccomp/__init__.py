"""Seccomp for containers (seccomp layer, beside the runtime): Docker profiles, the default profile, BPF.

`profile` decodes and resolves Docker's profile JSON into OCI `linux.seccomp`; `default` is Docker's default
profile; `rules` checks an OCI config with runc's semantics; `compile` turns it into classic BPF (`bpf` is
the assembler, `interp` an interpreter for tests); `cache` keeps compiled programs on disk; the syscall
tables (`tables`, made by `gentable`) cover x86_64, x32 and i386. Imports neither the runtime nor the daemon.
"""
