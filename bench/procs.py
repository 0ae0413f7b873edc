"""Memory of running processes, read from /proc (no extra dependency).

A server's memory is the resident set (VmRSS) of its process plus all its
descendants, because Sanic workers and Rasa sub-processes are children.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Dict, List, Optional

MB = 1024 * 1024


TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> Optional[List[str]]:
    """Fields of /proc/<pid>/stat after the command name (field 3 onwards); None when gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces or parentheses: split after the last ')'.
    return stat.rsplit(")", 1)[1].split()


def _parent(pid: int) -> Optional[int]:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far; 0 when it is gone."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / TICKS if fields else 0.0


def tree_cpu(root: int) -> float:
    """CPU seconds of a process tree: robust to other load on the machine, unlike wall time."""
    return sum(cpu_seconds(pid) for pid in descendants(root))


def task_cpu_ns(pid: int) -> int:
    """CPU time of one process in nanoseconds: the sum over its threads' schedstat (time on
    a CPU). Unlike /proc/<pid>/stat (10 ms ticks) it can time a single message; falls back
    to the ticks when schedstat is missing; 0 when the process is gone. Threads that have
    exited are not counted, so use it over spans in which the servers' threads live on."""
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return 0
    total, found = 0, False
    for task in tasks:
        try:
            total += int((task / "schedstat").read_text().split()[0])
            found = True
        except (OSError, ValueError, IndexError):
            continue
    return total if found else int(cpu_seconds(pid) * 1e9)


def tree_cpu_ns(root: int) -> int:
    """Nanosecond CPU time of a process tree (task_cpu_ns of root and its descendants)."""
    return sum(task_cpu_ns(pid) for pid in descendants(root))


def descendants(root: int) -> List[int]:
    """root and every process below it."""
    children: Dict[int, List[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            parent = _parent(int(entry.name))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _kb_field(path: str, name: str) -> int:
    """A "Name:  123 kB" line of a /proc file, in bytes; 0 when the process is gone."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(name):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def rss_bytes(pid: int) -> int:
    return _kb_field(f"/proc/{pid}/status", "VmRSS:")


def tree_rss(root: int) -> int:
    return sum(rss_bytes(pid) for pid in descendants(root))


def tree_pss(root: int) -> int:
    """Proportional set size: pages shared by forked workers are counted once, not per process."""
    return sum(_kb_field(f"/proc/{pid}/smaps_rollup", "Pss:") for pid in descendants(root))


def to_mb(n: float) -> float:
    return round(n / MB, 1)


class PeakSampler:
    """Samples the tree RSS of named processes in a background thread; keeps each peak."""

    def __init__(self, roots: Dict[str, int], interval: float = 0.25) -> None:
        self.roots = roots
        self.interval = interval
        self.peaks: Dict[str, int] = {name: tree_rss(pid) for name, pid in roots.items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        for name, pid in self.roots.items():
            self.peaks[name] = max(self.peaks[name], tree_rss(pid))

    def __enter__(self) -> "PeakSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def rss_now(roots: Dict[str, int]) -> Dict[str, int]:
    return {name: tree_rss(pid) for name, pid in roots.items()}


def pss_now(roots: Dict[str, int]) -> Dict[str, int]:
    return {name: tree_pss(pid) for name, pid in roots.items()}
