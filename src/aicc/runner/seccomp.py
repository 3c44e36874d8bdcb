"""A seccomp-BPF denylist, built here in a few lines instead of through libseccomp.

bubblewrap loads whatever program it is handed (``--seccomp FD``) right before it executes the job, after
it has set ``no_new_privs``. A denylist is enough for our purpose: the namespaces, the unprivileged uid and
the mount view are the isolation; seccomp removes kernel interfaces a job never needs (and which are the
usual first step of an escape: ``mount``, ``keyctl``, ``bpf``, user namespaces...). Denied calls fail with
``EPERM`` rather than killing the job, so a program that probes for a feature carries on without it.

Building the program ourselves keeps the runner free of a C library binding and is cheap enough to do for
every start (a few microseconds). The syscall numbers are the kernel's stable ABI for each architecture.
"""

from __future__ import annotations

import errno
import os
import struct
from collections.abc import Iterable

# struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6]
_NR, _ARCH, _ARG0 = 0, 4, 16
_LD_W_ABS, _JEQ_K, _JGE_K, _RET_K = 0x20, 0x15, 0x35, 0x06
RET_ALLOW = 0x7FFF0000
RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
X32_SYSCALL_BIT = 0x40000000

ARCHES = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}

SYSCALLS: dict[str, dict[str, int]] = {
    "x86_64": {
        "ptrace": 101, "mount": 165, "umount2": 166, "pivot_root": 155, "keyctl": 250, "add_key": 248,
        "request_key": 249, "bpf": 321, "perf_event_open": 298, "kexec_load": 246, "kexec_file_load": 320,
        "init_module": 175, "finit_module": 313, "delete_module": 176, "unshare": 272, "setns": 308,
        "swapon": 167, "swapoff": 168, "reboot": 169, "process_vm_readv": 310, "process_vm_writev": 311,
        "userfaultfd": 323, "open_by_handle_at": 304, "name_to_handle_at": 303, "acct": 163, "socket": 41,
        "socketpair": 53, "syslog": 103, "quotactl": 179, "lookup_dcookie": 212, "iopl": 172, "ioperm": 173,
    },
    "aarch64": {
        "ptrace": 117, "mount": 40, "umount2": 39, "pivot_root": 41, "keyctl": 219, "add_key": 217,
        "request_key": 218, "bpf": 280, "perf_event_open": 241, "kexec_load": 104, "kexec_file_load": 294,
        "init_module": 105, "finit_module": 273, "delete_module": 106, "unshare": 97, "setns": 268,
        "swapon": 224, "swapoff": 225, "reboot": 142, "process_vm_readv": 270, "process_vm_writev": 271,
        "userfaultfd": 282, "open_by_handle_at": 265, "name_to_handle_at": 264, "acct": 89, "socket": 198,
        "socketpair": 199, "syslog": 116, "quotactl": 60, "lookup_dcookie": 18,
    },
}
for _table in SYSCALLS.values():  # numbered alike on every architecture since 5.0
    _table.update({"open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
                   "fspick": 433, "mount_setattr": 442})


class UnsupportedArchitecture(RuntimeError):
    pass


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def program(denied: Iterable[str], socket_families: Iterable[int] = (), machine: str | None = None) -> bytes:
    """The filter as bytes for ``--seccomp``: other architectures are killed (no 32-bit side door), the named
    syscalls and ``socket(family, …)`` for the given families return EPERM, everything else is allowed.
    Names the architecture lacks (``iopl`` on arm64) are skipped."""
    arch = machine or os.uname().machine
    if arch not in ARCHES:
        raise UnsupportedArchitecture(f"no seccomp table for {arch}")
    table = SYSCALLS[arch]
    numbers = sorted({table[name] for name in denied if name in table})
    families = sorted(set(socket_families))
    deny = RET_ERRNO | errno.EPERM
    out = [_insn(_LD_W_ABS, 0, 0, _ARCH), _insn(_JEQ_K, 1, 0, ARCHES[arch]), _insn(_RET_K, 0, 0, RET_KILL_PROCESS),
           _insn(_LD_W_ABS, 0, 0, _NR)]
    if arch == "x86_64":  # x32 calls share the arch value; refuse the whole range
        out += [_insn(_JGE_K, 0, 1, X32_SYSCALL_BIT), _insn(_RET_K, 0, 0, deny)]
    for nr in numbers:
        out += [_insn(_JEQ_K, 0, 1, nr), _insn(_RET_K, 0, 0, deny)]
    if families:
        # socket(family, ...): compare the low 32 bits of args[0] (little-endian on both arches)
        out += [_insn(_JEQ_K, 0, 1 + 2 * len(families) + 1, table["socket"]), _insn(_LD_W_ABS, 0, 0, _ARG0)]
        for fam in families:
            out += [_insn(_JEQ_K, 0, 1, fam), _insn(_RET_K, 0, 0, deny)]
        out += [_insn(_RET_K, 0, 0, RET_ALLOW)]
    out.append(_insn(_RET_K, 0, 0, RET_ALLOW))
    return b"".join(out)
