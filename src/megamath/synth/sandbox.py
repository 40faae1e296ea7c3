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
user. Where bubblewrap cannot run,
:class:`SandboxError` says why; ``isolation="rlimits-only"`` is the weaker mode a user opts into by
name (the same interpreter and limits, no namespaces: for machines without user namespaces).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

ISOLATIONS = ("bwrap", "rlimits-only")
NOBODY = 65534  # the user a root caller's snippets run as


class SandboxError(RuntimeError):
    """The sandbox cannot be started (bubblewrap missing or not allowed to create namespaces)."""


@dataclass(frozen=True)
class SandboxConfig:
    """Limits per snippet, and the isolation around them.

    ``wall_seconds``: the snippet's process group is killed after this long; ``cpu_seconds``,
    ``memory_mb`` (address space), ``file_mb`` (largest file written), ``tmp_mb`` (the private
    ``/tmp``), ``output_kb`` (stdout and stderr kept, each). ``isolation``: ``bwrap`` or, by name,
    ``rlimits-only`` (see the module docstring).
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
            try:
                process.stdin.write((json.dumps(request) + "\n").encode())
                process.stdin.flush()
                line = process.stdout.readline()
            except (BrokenPipeError, OSError):
                line = b""
            if not line:  # the snippet took the interpreter down with it
                self._stop()
                self.restarts += 1
                return SnippetResult("sandbox_error", "", "the sandboxed interpreter died", None, 0.0)
            reply = json.loads(line)
        return SnippetResult(reply["outcome"], reply["stdout"], reply["stderr"], reply["returncode"], reply["seconds"])

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        if self._process is not None:
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
        if self.config.isolation == "rlimits-only":
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
                               "namespaces disabled, install bubblewrap (apt-get install bubblewrap) or choose "
                               "isolation 'rlimits-only' by name")
        process.stderr.close()  # the zygote answers on stdout; a snippet's stderr comes back in its reply
        self._process = process
        return process


def _bwrap_command(config: SandboxConfig, zygote: bytes) -> tuple[list[str], list[int]]:
    """(argv, file descriptors to hand over) for bubblewrap around the zygote."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxError("bubblewrap (bwrap) is not installed: apt-get install bubblewrap, or choose isolation "
                           "'rlimits-only' by name")
    argv = [bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv",
            "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp", "--setenv", "PYTHONDONTWRITEBYTECODE", "1"]
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
    read, write = os.pipe()
    os.write(write, zygote)  # the zygote is small: it fits in the pipe's buffer
    os.close(write)
    argv += ["--ro-bind-data", str(read), "/zygote.py", "--proc", "/proc", "--dev", "/dev",
             "--chdir", "/tmp",
             sys.executable, "-I", "-B", "/zygote.py"]
    return argv, [read]
