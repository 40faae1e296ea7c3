"""The seccomp filter around sandboxed snippets: the kernel calls a math snippet never needs, denied.

Namespaces, bubblewrap's limits and the zygote's rlimits keep a snippet in; this filter narrows the
kernel surface it can reach from inside, which is where escapes from containers have come from. It is
compiled with libseccomp (through ``pyseccomp``) and handed to bubblewrap (``--seccomp``), which
installs it just before the sandboxed interpreter starts, so it binds the warm interpreter and every
snippet forked from it. A denied call fails with ``EPERM``; calls of another architecture (32-bit
``int 0x80`` from a 64-bit process) kill the caller. The list is in :data:`DENIED` and the docs.
"""

from __future__ import annotations

import errno
import tempfile

# What a snippet never needs, with why it is denied.
DENIED = {
    # new namespaces and mounts: the way out of a sandbox built of them
    "unshare": "new namespaces", "setns": "joining namespaces", "mount": "mounts", "umount2": "mounts",
    "pivot_root": "mounts", "move_mount": "mounts", "open_tree": "mounts", "fsopen": "mounts",
    "fsmount": "mounts", "fsconfig": "mounts", "fspick": "mounts", "mount_setattr": "mounts",
    "chroot": "changing root",
    # state that outlives a snippet in the sandbox's IPC namespace (SysV segments held host memory after
    # their snippet exited): math snippets use none of it
    "shmget": "System V shared memory", "semget": "System V semaphores", "msgget": "System V message queues",
    "mq_open": "POSIX message queues",
    # kernel interfaces behind many privilege escalations
    "io_uring_setup": "io_uring", "io_uring_enter": "io_uring", "io_uring_register": "io_uring",
    "userfaultfd": "userfaultfd (race widening)", "perf_event_open": "perf events", "bpf": "eBPF",
    "keyctl": "kernel keyrings (shared between processes of a user)", "add_key": "kernel keyrings",
    "request_key": "kernel keyrings",
    # reaching other processes
    "ptrace": "tracing", "process_vm_readv": "reading another process", "process_vm_writev": "writing another process",
    "kcmp": "comparing processes", "pidfd_getfd": "taking another process's files",
    "open_by_handle_at": "opening files by handle", "name_to_handle_at": "file handles",
    # the machine itself
    "kexec_load": "kernel", "kexec_file_load": "kernel", "init_module": "kernel modules",
    "finit_module": "kernel modules", "delete_module": "kernel modules", "reboot": "reboot",
    "swapon": "swap", "swapoff": "swap", "acct": "accounting", "quotactl": "quotas", "syslog": "kernel log",
    "settimeofday": "clock", "clock_settime": "clock", "clock_adjtime": "clock", "adjtimex": "clock",
    "vhangup": "terminals", "lookup_dcookie": "profiling", "personality": "execution domains",
}
# clone() flags that make namespaces (os.fork passes none of them)
NAMESPACE_FLAGS = {"CLONE_NEWNS": 0x00020000, "CLONE_NEWCGROUP": 0x02000000, "CLONE_NEWUTS": 0x04000000,
                   "CLONE_NEWIPC": 0x08000000, "CLONE_NEWUSER": 0x10000000, "CLONE_NEWPID": 0x20000000,
                   "CLONE_NEWNET": 0x40000000, "CLONE_NEWTIME": 0x00000080}
# socket families besides local, IPv4 and IPv6 (the network namespace is empty anyway)
DENIED_SOCKET_FAMILIES = {"AF_KEY": 15, "AF_NETLINK": 16, "AF_PACKET": 17, "AF_RDS": 21, "AF_LLC": 26,
                          "AF_CAN": 29, "AF_TIPC": 30, "AF_BLUETOOTH": 31, "AF_ALG": 38, "AF_NFC": 39,
                          "AF_VSOCK": 40, "AF_QIPCRTR": 42, "AF_SMC": 43, "AF_XDP": 44, "AF_MCTP": 45}


def compiled_filter() -> bytes:
    """The filter as a BPF program for ``bwrap --seccomp``.

    :raise ImportError: when pyseccomp (or libseccomp) is missing.
    """
    import pyseccomp as seccomp

    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    denied = seccomp.ERRNO(errno.EPERM)
    for name in DENIED:
        try:
            rules.add_rule(denied, name)
        except (RuntimeError, ValueError, OSError):  # a call this kernel's architecture does not have
            continue
    for flag in NAMESPACE_FLAGS.values():
        rules.add_rule(denied, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    # clone3 passes its flags in memory a filter cannot read: "not implemented" sends glibc back to clone
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    for family in DENIED_SOCKET_FAMILIES.values():
        rules.add_rule(denied, "socket", seccomp.Arg(0, seccomp.EQ, family))
    with tempfile.TemporaryFile() as program:
        rules.export_bpf(program)
        program.seek(0)
        return program.read()
