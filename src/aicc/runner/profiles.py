"""The two isolation profiles of the one runner: what an ordinary job gets, and the data zone's stricter one.

A profile is policy only (which host files, which syscalls, whether the network may be kept); the runner
turns it into bubblewrap arguments, a seccomp program and cgroup limits. The data zone's sandbox is not a
second mechanism: it is ``SENSITIVE`` passed to the same code.
"""

from __future__ import annotations

import enum


class Profile(enum.Enum):
    STANDARD = "standard"
    """Every ordinary job: own mount/PID/IPC/UTS namespaces, host system read-only, its job directory,
    outbound network unless the project turned it off."""
    SENSITIVE = "sensitive"
    """A job on sensitive data: no network ever, one writable output folder, only the few ``/etc`` files a
    program needs, no ``/sys``, and more syscalls denied (ptrace, perf, netlink and packet sockets)."""

    @property
    def network_allowed(self) -> bool:
        return self is Profile.STANDARD

    @property
    def whole_etc(self) -> bool:
        """Ordinary jobs need the host's resolver, certificates and users; the data zone gets a minimum."""
        return self is Profile.STANDARD

    @property
    def denied_syscalls(self) -> tuple[str, ...]:
        return BASE_DENIED + (SENSITIVE_DENIED if self is Profile.SENSITIVE else ())

    @property
    def denied_socket_families(self) -> tuple[int, ...]:
        """AF_NETLINK (16) and AF_PACKET (17): kernel interfaces and raw frames an analysis never needs."""
        return (16, 17) if self is Profile.SENSITIVE else ()


BASE_DENIED = (
    # mounts and namespaces: the runner built the job's view of the system; the job may not rebuild it
    "mount", "umount2", "pivot_root", "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick",
    "mount_setattr", "unshare", "setns",
    # the kernel's own keyring, BPF, modules, kexec, swap, reboot, accounting, file handles
    "keyctl", "add_key", "request_key", "bpf", "init_module", "finit_module", "delete_module", "kexec_load",
    "kexec_file_load", "swapon", "swapoff", "reboot", "acct", "open_by_handle_at", "name_to_handle_at",
    "syslog", "userfaultfd", "quotactl", "lookup_dcookie", "iopl", "ioperm",
)
SENSITIVE_DENIED = ("ptrace", "process_vm_readv", "process_vm_writev", "perf_event_open")
"""Ordinary jobs keep ptrace and perf (debuggers and profilers on their own processes; the PID namespace and
a separate uid already keep them off everyone else's); the data zone has no use for them."""
