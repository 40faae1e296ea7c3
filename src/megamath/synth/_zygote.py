"""The program that runs inside the sandbox: a warm interpreter that forks one child per snippet.

It is copied into the sandbox and started there by :class:`megamath.synth.sandbox.Sandbox`; it imports
nothing of megamath. The math libraries snippets use are imported once, here, before any snippet
runs; each request (one JSON line on stdin: ``{"code", "wall_seconds", "cpu_seconds", "memory_bytes",
"file_bytes", "output_bytes"}``) gets a fresh child process that sets its own limits — no new
processes at all, CPU time, address space, file size, open files — in a session of its own, runs the
code and exits (as ``nobody`` when the sandbox was started by root); this process waits for it with a
wall-clock deadline whatever the snippet does to its output (a child that closes both pipes and sleeps
is still timed), kills its whole process group when the deadline passes, empties ``/tmp`` of what the
snippet left, and answers one JSON line on stdout. It is not dumpable: a snippet of the same user can
neither trace it nor open its file descriptors in ``/proc`` to forge the next reply.
"""

import ctypes
import json
import os
import resource
import select
import signal
import sys
import time
import traceback

# one thread for numeric libraries: a snippet may not start threads (RLIMIT_NPROC 0), and OpenBLAS
# failing to start its pool had timed out an honest matrix product
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_variable] = "1"

for _name in ("math", "cmath", "fractions", "decimal", "statistics", "itertools", "functools", "collections",
              "random", "re", "numpy", "sympy"):
    try:
        __import__(_name)
    except ImportError:  # a library the environment lacks: a snippet that needs it fails on its import
        pass

MEMORY_EXIT = 101
PR_SET_DUMPABLE = 4
# the sandbox's private /tmp, which the zygote empties after each snippet; set by the sandbox only (in
# the unsafe mode /tmp is the host's own, and is left alone)
PRIVATE_TMP = os.environ.get("MEGAMATH_SANDBOX_PRIVATE_TMP")
CLEAN_SECONDS = 10.0


def _child(code, limits, out_fd, err_fd):
    os.setsid()
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.closerange(3, 1024)
    _become_snippet_user()
    cpu = limits["cpu_seconds"]
    for limit, soft, hard in ((resource.RLIMIT_NPROC, 0, 0), (resource.RLIMIT_CPU, cpu, cpu + 1),  # SIGXCPU first
                              (resource.RLIMIT_AS, limits["memory_bytes"], limits["memory_bytes"]),
                              (resource.RLIMIT_FSIZE, limits["file_bytes"], limits["file_bytes"]),
                              (resource.RLIMIT_NOFILE, 32, 32), (resource.RLIMIT_CORE, 0, 0)):
        resource.setrlimit(limit, (soft, hard))
    status = 0
    try:
        exec(compile(code, "<snippet>", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
    except MemoryError:
        status = MEMORY_EXIT
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
        status = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    os._exit(status & 0xFF)


def _collect(fds, deadline, cap):
    """Read the child's output pipes until both close or the deadline passes; keep ``cap`` bytes each."""
    kept = {fd: bytearray() for fd in fds}
    open_fds = list(fds)
    while open_fds:
        left = deadline - time.monotonic()
        if left <= 0:
            return kept, False
        ready, _, _ = select.select(open_fds, [], [], left)
        for fd in ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                open_fds.remove(fd)
            elif len(kept[fd]) < cap:
                kept[fd] += chunk[: cap - len(kept[fd])]
    return kept, True


def _wait(pid, deadline):
    """The child's wait status, or None when it is still running at the deadline."""
    pidfd = os.pidfd_open(pid)
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return status
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            select.select([pidfd], [], [], left)
    finally:
        os.close(pidfd)


def _kill(pid):
    for kill in (os.killpg, os.kill):  # its group; the child itself, should it have left the group
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _empty_tmp():
    """Remove what a snippet left in /tmp (a full /tmp failed the next snippet), as the snippet's user
    (root cannot open nobody's private directories without capabilities it does not keep); whether
    /tmp is empty now."""
    if PRIVATE_TMP is None or not os.listdir(PRIVATE_TMP):
        return True
    pid = os.fork()
    if pid == 0:
        status = 0
        try:
            _become_snippet_user()
            for entry in os.listdir(PRIVATE_TMP):
                _remove(os.path.join(PRIVATE_TMP, entry))
        except BaseException:
            status = 1
        os._exit(status)
    status = _wait(pid, time.monotonic() + CLEAN_SECONDS)
    if status is None:
        _kill(pid)
        os.waitpid(pid, 0)
    return status == 0 and not os.listdir(PRIVATE_TMP)


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        os.chmod(path, 0o700)  # a snippet's directory without permissions is still its own
        for entry in os.listdir(path):
            _remove(os.path.join(path, entry))
        os.rmdir(path)
    else:
        os.unlink(path)


def _become_snippet_user():
    uid = os.environ.get("MEGAMATH_SANDBOX_UID")
    if uid:  # started as root: the snippet runs as nobody, whose processes the kernel does count
        os.setgroups([])
        os.setresgid(int(uid), int(uid), int(uid))
        os.setresuid(int(uid), int(uid), int(uid))


def run(request):
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(out_read)
            os.close(err_read)
            _child(request["code"], request, out_write, err_write)
        finally:
            os._exit(1)
    os.close(out_write)
    os.close(err_write)
    deadline = started + request["wall_seconds"]
    kept, finished = _collect((out_read, err_read), deadline, request["output_bytes"])
    status = _wait(pid, deadline) if finished else None
    if status is None:  # past the deadline, its pipes closed or not
        finished = False
        _kill(pid)
        _, status = os.waitpid(pid, 0)
    os.close(out_read)
    os.close(err_read)
    clean = _empty_tmp()
    if not finished:
        outcome, code = "timeout", None
    elif os.WIFSIGNALED(status):
        code = -os.WTERMSIG(status)
        outcome = "timeout" if os.WTERMSIG(status) == signal.SIGXCPU else "killed"
    else:
        code = os.WEXITSTATUS(status)
        outcome = "ok" if code == 0 else ("memory" if code == MEMORY_EXIT else "error")
    reply = {"outcome": outcome, "returncode": code, "seconds": round(time.monotonic() - started, 4),
             "stdout": kept[out_read].decode("utf-8", "replace"), "stderr": kept[err_read].decode("utf-8", "replace")}
    return reply, clean


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise SystemExit("prctl(PR_SET_DUMPABLE) failed")
    sys.stdout.write(json.dumps({"ready": True}) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        clean = True
        try:
            reply, clean = run(json.loads(line))
        except Exception as exc:  # the zygote answers every request, whatever went wrong
            reply = {"outcome": "sandbox_error", "returncode": None, "seconds": 0.0, "stdout": "",
                     "stderr": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
        if not clean:  # what the snippet left could not be removed: a fresh sandbox for the next one
            sys.exit(1)


if __name__ == "__main__":
    main()
