"""Measuring a process tree: CPU seconds and peak memory of everything below this process (workers,
Ray's daemons), sampled every 50 ms so that processes that end early still count."""

from __future__ import annotations

import threading

import psutil


class TreeSampler:
    """``with TreeSampler() as tree: ...`` then ``tree.cpu_seconds`` (user + system of every process
    seen, this one included) and ``tree.peak_child_rss`` (the largest resident size of one child)."""

    def __enter__(self) -> "TreeSampler":
        self._cpu: dict[int, float] = {}
        self.peak_child_rss = 0
        self._before = self._sample()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> dict[int, float]:
        me = psutil.Process()
        for process in [me, *me.children(recursive=True)]:
            try:
                self._cpu[process.pid] = sum(process.cpu_times()[:2])  # not the reaped children's
                if process.pid != me.pid:
                    self.peak_child_rss = max(self.peak_child_rss, process.memory_info().rss)
            except psutil.Error:
                pass
        return dict(self._cpu)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self._sample()

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self.cpu_seconds = sum(cpu - self._before.get(pid, 0.0) for pid, cpu in self._cpu.items())


def best_cpu_seconds(runs: dict, repeats: int = 5) -> dict[str, float]:
    """The least CPU seconds of this process each of ``runs`` (name → a function of no arguments) took,
    the runs alternating ``repeats`` times: the machine is shared, and the best run is the least disturbed."""
    import time

    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.process_time()
            run()
            best[name] = min(best[name], time.process_time() - start)
    return best


def print_against_peer(best: dict[str, float], peer: str, megabytes: float, against: str) -> None:
    """One line per run of :func:`best_cpu_seconds`: CPU seconds, MB/s of text, and its speed as a
    multiple of the ``peer`` run's, measured in the same process."""
    width = max(map(len, best)) + 2
    for name, seconds in best.items():
        print(f"{name:{width}} {seconds:7.2f} CPU-s  {megabytes / seconds:7.1f} MB/s of text  "
              f"{best[peer] / seconds:5.2f}× {against}")
