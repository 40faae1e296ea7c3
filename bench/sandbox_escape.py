"""The code sandbox against hostile snippets: each attack contained, the host healthy after each.

Every attack runs through ``Sandbox.run`` as the pipeline runs it. An attack is contained when its
check holds (a denied call, a read-only file system, a deadline kept, a forged reply not believed...);
after each one the host must be healthy: no process of the sandbox's left beyond its interpreter, the
memory held by processes and shared memory back within 64 MB of where it was, and an honest snippet answering correctly at
normal speed. Run it as root and as an unprivileged user (``--as-nobody`` runs this same script again as
``nobody``, whose user namespaces bubblewrap then uses):

    python bench/sandbox_escape.py [--as-nobody]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from megamath.synth.sandbox import Sandbox, SandboxConfig, SnippetResult

SYSCALL = "import ctypes, errno\nlibc = ctypes.CDLL(None, use_errno=True)\n"
# x86_64 system call numbers of the calls tried directly
NUMBERS = {"io_uring_setup": 425, "userfaultfd": 323, "perf_event_open": 298, "bpf": 321, "keyctl": 250,
           "add_key": 248, "ptrace": 101, "process_vm_readv": 310, "unshare": 272, "setns": 308, "mount": 165,
           "clone": 56, "open_by_handle_at": 304, "kexec_load": 246, "init_module": 175, "reboot": 169,
           "clock_settime": 227, "chroot": 161, "shmget": 29, "semget": 64, "msgget": 68, "mq_open": 240,
           "pivot_root": 155, "swapon": 167, "syslog": 103, "personality": 135, "pidfd_getfd": 438}


def denied_call(name: str, *args: int) -> str:
    """A snippet that makes one system call and prints whether the kernel refused it."""
    arguments = ", ".join(f"ctypes.c_long({a})" for a in args)
    return (SYSCALL + f"r = libc.syscall({NUMBERS[name]}{', ' if args else ''}{arguments})\n"
            "print('DENIED' if r == -1 and ctypes.get_errno() in (errno.EPERM, errno.ENOSYS, errno.EACCES) "
            "else f'ALLOWED {r} {ctypes.get_errno()}')")


def says(word: str) -> Callable[[SnippetResult], bool]:
    return lambda r: word in r.stdout and "ALLOWED" not in r.stdout


def outcome(*names: str) -> Callable[[SnippetResult], bool]:
    return lambda r: r.outcome in names


@dataclass(frozen=True)
class Attack:
    name: str
    code: str
    contained: Callable[[SnippetResult], bool]
    # a second snippet whose result shows the attack left nothing behind (None: the honest probe only)
    after: tuple[str, Callable[[SnippetResult], bool]] | None = None


SECRET = "MEGAMATH_ESCAPE_SECRET"
CANARY = Path.home() / "megamath-escape-canary"

ATTACKS = [
    # deadlines whatever the snippet does to its output
    Attack("close stdout and stderr, then sleep", "import os, time\nos.close(1); os.close(2); time.sleep(10**6)",
           outcome("timeout")),
    Attack("point stdout and stderr at /dev/null, then select()",
           "import os, select\nn = os.open('/dev/null', os.O_WRONLY)\nos.dup2(n, 1); os.dup2(n, 2)\nselect.select([], [], [])",
           outcome("timeout")),
    Attack("ignore SIGTERM and sleep", "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(10**6)",
           outcome("timeout")),
    Attack("a new session, then sleep", "import os, time\ntry:\n    os.setsid()\nexcept OSError:\n    pass\ntime.sleep(10**6)",
           outcome("timeout")),
    Attack("busy loop", "while True:\n    pass", outcome("timeout")),
    Attack("stop the interpreter (SIGSTOP)", "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)\nprint('sent')",
           lambda r: r.outcome in ("ok", "error", "sandbox_error")),
    Attack("kill the interpreter", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
           outcome("ok", "error", "sandbox_error", "killed")),
    Attack("kill every process it can", "import os, signal\nos.kill(-1, signal.SIGKILL)",
           outcome("ok", "error", "sandbox_error", "killed")),
    # forged verdicts
    Attack("write a forged reply to the interpreter's stdout via /proc",
           "import os, json\nfd = os.open(f'/proc/{os.getppid()}/fd/1', os.O_WRONLY)\n"
           "os.write(fd, (json.dumps({'outcome': 'ok', 'stdout': '37\\n', 'stderr': '', 'returncode': 0, "
           "'seconds': 0}) + '\\n').encode())\nprint('FORGED')",
           lambda r: "FORGED" not in r.stdout, ("print(36)", lambda r: r.stdout == "36\n")),
    Attack("read the interpreter's memory via /proc/ppid/mem",
           "import os\nopen(f'/proc/{os.getppid()}/mem', 'rb').read(1)\nprint('READ')", lambda r: "READ" not in r.stdout),
    Attack("ptrace the interpreter", SYSCALL + "import os\nr = libc.ptrace(16, os.getppid(), None, None)\n"
           "print('DENIED' if r == -1 else 'ALLOWED')", says("DENIED")),
    Attack("process_vm_readv on the interpreter", denied_call("process_vm_readv", 1, 0, 0, 0, 0, 0), says("DENIED")),
    Attack("pidfd_getfd", denied_call("pidfd_getfd", 3, 1, 0), says("DENIED")),
    # state that outlives a snippet
    Attack("System V shared memory held after exit",
           SYSCALL + "r = libc.shmget(0, 400 << 20, 0o1000 | 0o600)\nprint('DENIED' if r == -1 else 'ALLOWED')",
           says("DENIED")),
    Attack("System V semaphores", denied_call("semget", 0, 1, 0o1000 | 0o600), says("DENIED")),
    Attack("System V message queues", denied_call("msgget", 0, 0o1000 | 0o600), says("DENIED")),
    Attack("POSIX message queue", SYSCALL + "r = libc.mq_open(b'/q', 0o100 | 2, 0o600, None)\n"
           "print('DENIED' if r == -1 else 'ALLOWED')", says("DENIED")),
    Attack("POSIX shared memory in /dev/shm", "open('/dev/shm/x', 'wb').write(b'x' * (64 << 20))\nprint('WROTE')",
           lambda r: "WROTE" not in r.stdout),
    Attack("a file left in /tmp", "open('/tmp/left', 'w').write('secret of the last snippet')\nprint('ok')",
           outcome("ok"), ("import os\nprint(os.listdir('/tmp'))", lambda r: r.stdout == "[]\n")),
    Attack("a locked directory left in /tmp",
           "import os\nos.makedirs('/tmp/d/e')\nopen('/tmp/d/e/f', 'w').write('x')\nos.chmod('/tmp/d/e', 0)\nos.chmod('/tmp/d', 0)",
           outcome("ok"), ("import os\nprint(os.listdir('/tmp'))", lambda r: r.stdout == "[]\n")),
    Attack("fill /tmp", "f = open('/tmp/fill', 'wb')\ntry:\n    while True:\n        f.write(b'x' * (1 << 20)); f.flush()\n"
           "except OSError:\n    pass", outcome("ok", "error", "killed"),
           ("open('/tmp/honest', 'w').write('result')\nprint(open('/tmp/honest').read())", lambda r: r.stdout == "result\n")),
    Attack("keyring: add a key", denied_call("add_key", 0, 0, 0, 0, 0), says("DENIED")),
    Attack("keyring: keyctl", denied_call("keyctl", 0, -3, 0), says("DENIED")),
    # the file system
    Attack("write into the root", "open('/evil', 'w').write('x')\nprint('WROTE')", lambda r: "WROTE" not in r.stdout),
    Attack("write into /dev", "open('/dev/evil', 'w').write('x')\nprint('WROTE')", lambda r: "WROTE" not in r.stdout),
    Attack("write into the Python installation",
           f"open({str(Path(sys.prefix) / 'evil.pth')!r}, 'w').write('import os')\nprint('WROTE')",
           lambda r: "WROTE" not in r.stdout),
    Attack("read the canary in the home folder", f"print(open({str(CANARY)!r}).read())",
           lambda r: "canary" not in r.stdout),
    Attack("read this process's environment", f"import os\nprint(os.environ.get({SECRET!r}, 'absent'))",
           lambda r: "absent" in r.stdout),
    Attack("read /etc/shadow", "print(open('/etc/shadow').read()[:20])", lambda r: r.outcome != "ok"),
    Attack("sysrq trigger", "open('/proc/sysrq-trigger', 'w').write('s')\nprint('WROTE')", lambda r: "WROTE" not in r.stdout),
    # namespaces, mounts and the kernel surface
    Attack("unshare a user namespace", denied_call("unshare", 0x10000000), says("DENIED")),
    Attack("unshare a mount namespace", denied_call("unshare", 0x00020000), says("DENIED")),
    Attack("clone into a new user namespace", denied_call("clone", 0x10000000 | 17, 0, 0, 0, 0), says("DENIED")),
    Attack("setns", denied_call("setns", 3, 0), says("DENIED")),
    Attack("mount a tmpfs", SYSCALL + "r = libc.mount(b'none', b'/tmp', b'tmpfs', 0, None)\n"
           "print('DENIED' if r == -1 else 'ALLOWED')", says("DENIED")),
    Attack("pivot_root", denied_call("pivot_root", 0, 0), says("DENIED")),
    Attack("chroot", SYSCALL + "r = libc.chroot(b'/tmp')\nprint('DENIED' if r == -1 else 'ALLOWED')", says("DENIED")),
    Attack("io_uring", denied_call("io_uring_setup", 8, 0), says("DENIED")),
    Attack("userfaultfd", denied_call("userfaultfd", 0), says("DENIED")),
    Attack("perf_event_open", denied_call("perf_event_open", 0, 0, -1, -1, 0), says("DENIED")),
    Attack("bpf", denied_call("bpf", 0, 0, 0), says("DENIED")),
    Attack("open_by_handle_at", denied_call("open_by_handle_at", 3, 0, 0), says("DENIED")),
    Attack("kexec_load", denied_call("kexec_load", 0, 0, 0, 0), says("DENIED")),
    Attack("init_module", denied_call("init_module", 0, 0, 0), says("DENIED")),
    Attack("reboot", denied_call("reboot", 0xfee1dead, 672274793, 0x4321fedc), says("DENIED")),
    Attack("set the clock", denied_call("clock_settime", 0, 0), says("DENIED")),
    Attack("swapon", denied_call("swapon", 0, 0), says("DENIED")),
    Attack("read the kernel log", denied_call("syslog", 3, 0, 0), says("DENIED")),
    Attack("personality", denied_call("personality", 0x0040000), says("DENIED")),
    Attack("AF_VSOCK socket", "import socket\ns = socket.socket(40, socket.SOCK_STREAM)\nprint('OPENED')",
           lambda r: "OPENED" not in r.stdout),
    Attack("AF_NETLINK socket", "import socket\ns = socket.socket(16, socket.SOCK_RAW, 0)\nprint('OPENED')",
           lambda r: "OPENED" not in r.stdout),
    Attack("AF_PACKET socket", "import socket\ns = socket.socket(17, socket.SOCK_RAW, 0)\nprint('OPENED')",
           lambda r: "OPENED" not in r.stdout),
    Attack("the network", "import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=1)\nprint('CONNECTED')",
           lambda r: "CONNECTED" not in r.stdout),
    Attack("setuid(0)", "import os\nos.setuid(0)\nprint('ROOT')", lambda r: "ROOT" not in r.stdout),
    # resources
    Attack("fork", "import os\nos.fork()\nprint('FORKED')", lambda r: "FORKED" not in r.stdout),
    Attack("threads", "import threading\nthreading.Thread(target=lambda: None).start()\nprint('THREAD')",
           lambda r: "THREAD" not in r.stdout),
    Attack("memory bomb", "x = bytearray(8 << 30)", outcome("memory", "error", "killed")),
    Attack("output flood", "while True:\n    print('x' * 1000)", lambda r: len(r.stdout) <= 64 << 10),
    Attack("a large file", "open('/tmp/big', 'wb').write(b'x' * (64 << 20))", outcome("error", "killed")),
    Attack("open files", "fs = [open('/dev/null') for _ in range(10000)]", outcome("error")),
    Attack("deep recursion", "import sys\nsys.setrecursionlimit(10**7)\nf = lambda n: f(n + 1)\nf(0)",
           outcome("error", "killed", "memory", "timeout")),
]
HONEST = [("print(6 * 7)", "42\n"),
          ("import numpy as np\na = np.ones((200, 200))\nprint(int((a @ a)[0, 0]))", "200\n")]


def _held_mb() -> float:
    """Memory held by processes and by shared memory (tmpfs, System V segments) on the host. The
    memory a snippet could leave behind is one or the other; MemAvailable also moves with the page
    cache and the VM's balloon, so it is not the measure."""
    fields = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0])
    return (fields["AnonPages"] + fields["Shmem"]) / 1024


def _descendants(pid: int) -> int:
    """How many processes descend from ``pid`` (the sandbox's bubblewrap): its interpreter, and any
    snippet's process left running."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError):
                continue
    count, frontier = 0, {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        count += len(frontier)
    return count


def _honest(box: Sandbox) -> tuple[bool, float]:
    started = time.perf_counter()
    good = all(box.run(code).stdout == expected for code, expected in HONEST)
    return good, time.perf_counter() - started


def main() -> None:
    if "--as-nobody" in sys.argv:
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--reset-env", sys.executable,
                   str(Path(__file__).resolve())]
        sys.exit(subprocess.run(command, env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"}).returncode)
    os.environ[SECRET] = "the host's secret"
    try:
        CANARY.write_text("canary: the host's file")
    except OSError:
        pass
    config = SandboxConfig(wall_seconds=2.0, cpu_seconds=2)
    failures = 0
    with Sandbox(config) as box:
        good, normal = _honest(box)
        assert good, "an honest snippet fails before any attack"
        baseline_memory, baseline_processes = _held_mb(), _descendants(box.pid)
        print(f"running as uid {os.geteuid()}; {len(ATTACKS)} attacks; honest probe {1000 * normal:.0f} ms")
        for attack in ATTACKS:
            result = box.run(attack.code)
            contained = attack.contained(result)
            left_behind = attack.after is not None and not attack.after[1](box.run(attack.after[0]))
            good, seconds = _honest(box)
            leftover = _descendants(box.pid) - baseline_processes
            memory_lost = _held_mb() - baseline_memory
            healthy = good and seconds < max(1.0, 10 * normal) and leftover <= 0 and memory_lost < 64
            ok = contained and not left_behind and healthy
            failures += not ok
            print(f"  {'contained' if ok else 'ESCAPED  '}  {attack.name:58s} {result.outcome:13s} "
                  f"{'' if healthy else f'host: honest={good} {seconds:.2f}s, {leftover} processes left, '}"
                  f"{'' if healthy else f'memory +{memory_lost:.0f} MB held'}{' (state left behind)' if left_behind else ''}")
        print(f"{len(ATTACKS) - failures} of {len(ATTACKS)} attacks contained, host healthy after each; "
              f"interpreter restarts: {box.restarts}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
