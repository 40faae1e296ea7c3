"""Running untrusted Python snippets: a bubblewrap sandbox around a warm interpreter.

The sandbox is the security boundary (the AST prefilter of :mod:`.prefilter` is only a cheap first
look). A :class:`Sandbox` starts one interpreter under Debian's ``bwrap`` — every namespace unshared
(no network at all, not even loopback; its own PIDs, so nothing outside can be signalled), a root
that holds only ``/usr`` and the Python installation, read-only, a private ``/tmp`` of bounded size,
an empty environment, no capabilities, killed with its parent — and sends it one snippet at a time.
That interpreter (:mod:`._zygote`) has imported numpy and sympy once; it forks a fresh child per
snippet which cannot create processes and has limits on CPU time, address space, file size and open
files, and is killed with its process group at a wall-clock deadline. A snippet that kills the
interpreter itself costs a restart, never the run.

Run as root, each snippet's child runs as ``nobody`` (the kernel does not limit root's processes, and
nobody cannot signal the interpreter); otherwise the sandbox is a user namespace of the caller's own
user. The root and ``/dev`` are read-only, a seccomp filter (:mod:`.syscalls`) denies the kernel calls
snippets never need (new namespaces, io_uring, userfaultfd, perf, bpf, keyrings, ptrace, System V
IPC, unusual socket families, mounts), and the interpreter is not dumpable.

Deadlines hold whatever a snippet does: the interpreter times each child even after it closes its
output, and this side gives the interpreter a deadline for each answer; an interpreter that misses it
(stopped, killed, wedged) is killed with its sandbox and started again.

Where bubblewrap cannot run, :class:`SandboxError` says why. ``isolation="unsafe-rlimits-only"`` runs
the same interpreter and limits with no namespaces and no filter: a snippet can read this process's
environment and files, reach the network and write wherever the user can. It is for trusted code
only; every start warns, and as root it is refused unless ``MEGAMATH_ALLOW_UNSAFE_SANDBOX=root`` says
so a second time.
"""

from __future__ import annotations

import json
import logging
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from megamath.synth.syscalls import compiled_filter

log = logging.getLogger(__name__)

UNSAFE = "unsafe-rlimits-only"
ISOLATIONS = ("bwrap", UNSAFE)
ALLOW_UNSAFE_AS_ROOT = ("MEGAMATH_ALLOW_UNSAFE_SANDBOX", "root")
NOBODY = 65534  # the user a root caller's snippets run as
# beyond a snippet's wall-clock limit, what the interpreter may take to answer (emptying /tmp included)
ANSWER_GRACE_SECONDS = 15.0


class SandboxError(RuntimeError):
    """The sandbox cannot be started (bubblewrap missing or not allowed to create namespaces)."""


@dataclass(frozen=True)
class SandboxConfig:
    """Limits per snippet, and the isolation around them.

    ``wall_seconds``: the snippet's process group is killed after this long; ``cpu_seconds``,
    ``memory_mb`` (address space), ``file_mb`` (largest file written), ``tmp_mb`` (the private
    ``/tmp``), ``output_kb`` (stdout and stderr kept, each). ``isolation``: ``bwrap`` or, by name and
    for trusted code only, ``unsafe-rlimits-only`` (see the module docstring).
    """

    wall_seconds: float = 5.0
    cpu_seconds: int = 4
    memory_mb: int = 1024
    file_mb: int = 8
    tmp_mb: int = 16
    output_kb: int = 64
    isolation: str = "bwrap"

    def __post_init__(self):
        if self.isolation not in ISOLATIONS:
            raise ValueError(f"isolation must be one of {', '.join(ISOLATIONS)}, not {self.isolation!r}")


@dataclass(frozen=True)
class SnippetResult:
    """``outcome``: ``ok`` (exit 0), ``error`` (an exception or a non-zero exit), ``timeout`` (wall or
    CPU time), ``memory``, ``killed`` (a signal), or ``sandbox_error`` (the interpreter died: the
    snippet killed it or it could not answer)."""

    outcome: str
    stdout: str
    stderr: str
    returncode: int | None
    seconds: float


class Sandbox:
    """``with Sandbox(config) as box: box.run(code)``; one snippet at a time per sandbox (a lock keeps
    threads from interleaving), the interpreter started on first use and again after it dies."""

    def __init__(self, config: SandboxConfig | None = None):
        self.config = config or SandboxConfig()
        self._process: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self.restarts = 0

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def run(self, code: str) -> SnippetResult:
        config = self.config
        request = {"code": code, "wall_seconds": config.wall_seconds, "cpu_seconds": config.cpu_seconds,
                   "memory_bytes": config.memory_mb << 20, "file_bytes": config.file_mb << 20,
                   "output_bytes": config.output_kb << 10}
        with self._lock:
            process = self._interpreter()
            started = time.monotonic()
            try:
                process.stdin.write((json.dumps(request) + "\n").encode())
                process.stdin.flush()
                line = _read_line(process.stdout.fileno(), started + config.wall_seconds + ANSWER_GRACE_SECONDS)
            except (BrokenPipeError, OSError):
                line = b""
            if not line:  # the snippet took the interpreter down with it, or stopped it
                self._stop()
                self.restarts += 1
                seconds = round(time.monotonic() - started, 4)
                return SnippetResult("sandbox_error", "", "the sandboxed interpreter died or stopped answering",
                                     None, seconds)
            reply = json.loads(line)
        return SnippetResult(reply["outcome"], reply["stdout"], reply["stderr"], reply["returncode"], reply["seconds"])

    @property
    def pid(self) -> int | None:
        """The sandbox's process (bubblewrap, or the interpreter in the unsafe mode); None before it starts."""
        return self._process.pid if self._process is not None else None

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        if self._process is not None:
            try:  # bubblewrap and everything in the sandbox: they share its session
                os.killpg(self._process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self._process.kill()
            self._process.wait()
            for stream in (self._process.stdin, self._process.stdout):
                stream.close()
            self._process = None

    def _interpreter(self) -> subprocess.Popen:
        if self._process is not None and self._process.poll() is None:
            return self._process
        self._stop()
        source = files(__package__).joinpath("_zygote.py").read_bytes()
        if self.config.isolation == UNSAFE:
            _allow_unsafe()
            argv, fds = [sys.executable, "-I", "-B", "-c", source.decode()], []
        else:
            argv, fds = _bwrap_command(self.config, source)
        try:
            process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       pass_fds=fds, env={"PATH": "/usr/bin:/bin"}, start_new_session=True)
        finally:
            for fd in fds:
                os.close(fd)
        ready = process.stdout.readline()
        if not ready.startswith(b'{"ready"'):
            error = process.stderr.read().decode("utf-8", "replace").strip()
            process.kill()
            process.wait()
            raise SandboxError(f"the sandbox did not start: {error or 'no answer'}; with bubblewrap missing or user "
                               "namespaces disabled, install bubblewrap (apt-get install bubblewrap); isolation "
                               f"'{UNSAFE}' runs without any sandbox, for trusted code only")
        process.stderr.close()  # the zygote answers on stdout; a snippet's stderr comes back in its reply
        self._process = process
        return process


def _bwrap_command(config: SandboxConfig, zygote: bytes) -> tuple[list[str], list[int]]:
    """(argv, file descriptors to hand over) for bubblewrap around the zygote."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxError(f"bubblewrap (bwrap) is not installed: apt-get install bubblewrap (isolation '{UNSAFE}' "
                           "runs without any sandbox, for trusted code only)")
    try:
        program = compiled_filter()
    except (ImportError, OSError) as exc:
        raise SandboxError(f"the sandbox's seccomp filter cannot be built ({exc}): pip install pyseccomp, and "
                           "libseccomp2 from the system's packages") from exc
    argv = [bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv",
            "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp", "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
            "--setenv", "MEGAMATH_SANDBOX_PRIVATE_TMP", "/tmp"]
    fds = [_data_fd(program)]
    argv += ["--seccomp", str(fds[0])]
    if os.geteuid() == 0:
        # root's processes are not counted against RLIMIT_NPROC: the zygote keeps only the capabilities to
        # drop each snippet's child to nobody and to kill it (no user namespace: nobody must be nobody
        # outside too); the child has none
        argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_KILL",
                 "--setenv", "MEGAMATH_SANDBOX_UID", str(NOBODY)]
    else:
        argv.append("--unshare-user")
    # the private /tmp first: an installation under /tmp (a venv, a CI checkout) is bound on top of it
    argv += ["--perms", "1777", "--size", str(config.tmp_mb << 20), "--tmpfs", "/tmp", "--ro-bind", "/usr", "/usr"]
    for link in ("bin", "lib", "lib64", "sbin"):
        target = Path("/") / link
        if target.is_symlink():
            argv += ["--symlink", os.readlink(target), f"/{link}"]
        elif target.is_dir():
            argv += ["--ro-bind", str(target), str(target)]
    made: set[str] = set()
    for prefix in sorted({os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix), sys.prefix}):
        if prefix.startswith("/usr/"):
            continue
        for parent in reversed(Path(prefix).parents[:-1]):  # readable by nobody, whatever they are outside
            if str(parent) not in made and str(parent) != "/tmp":
                made.add(str(parent))
                argv += ["--perms", "0755", "--dir", str(parent)]
        argv += ["--ro-bind", prefix, prefix]
    fds.append(_data_fd(zygote))
    argv += ["--ro-bind-data", str(fds[-1]), "/zygote.py", "--proc", "/proc", "--dev", "/dev",
             "--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/tmp",
             sys.executable, "-I", "-B", "/zygote.py"]
    return argv, fds


def _data_fd(data: bytes) -> int:
    """A pipe's read end holding ``data`` (small: it fits in the pipe's buffer)."""
    read, write = os.pipe()
    os.write(write, data)
    os.close(write)
    return read


def _read_line(fd: int, deadline: float) -> bytes:
    """One line from ``fd`` before ``deadline`` (b"" at its end or past the deadline). The interpreter
    writes one line per request, so nothing after it is lost."""
    line = bytearray()
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return b""
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b""
        line += chunk
    return bytes(line)


def _allow_unsafe() -> None:
    variable, value = ALLOW_UNSAFE_AS_ROOT
    if os.geteuid() == 0 and os.environ.get(variable) != value:
        raise SandboxError(f"isolation '{UNSAFE}' runs snippets as root with no sandbox: refused (set "
                           f"{variable}={value} as well to run it anyway)")
    log.warning("isolation '%s': snippets run WITHOUT a sandbox (they can read this process's environment and "
                "files, reach the network and write wherever this user can); use it for trusted code only", UNSAFE)
