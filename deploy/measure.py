"""Measure what one Rasa server and one action server need: the figures behind the
resource requests and limits in deploy/kubernetes (docs/deploy.md, "Measured figures").

Starts the product (scripts/stack.py, no web page, a throwaway conversation store) on free
ports, waits until both servers are healthy, reads their memory and CPU from /proc, sends
REST messages from several conversations one after the other, and reads them again.

    .venv/bin/python deploy/measure.py [--messages 1500] [--conversations 300]

Prints one JSON object: seconds until healthy; per server RSS (MiB) when idle and after
the messages, the peak RSS (VmHWM), CPU-seconds spent starting and CPU ms per message.
Linux only (/proc).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from stack import Stack, free_port, post_json  # noqa: E402

QUESTIONS: List[str] = [
    "what is baclofen", "what are the side effects", "can I drink alcohol with it",
    "how should I store the tablets", "what if my pump alarm beeps", "what is the maximum dose",
]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def memory_mib(pid: int) -> Dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of a process, in MiB."""
    found: Dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) // 1024
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def measure(messages: int, conversations: int) -> Dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="baclofen-measure-") as tmp:
        stack = Stack(rasa_port=free_port(), actions_port=free_port(), web_port=free_port(),
                      with_web=False, tracker_url=f"sqlite:///{tmp}/conversations.sqlite")
        t0 = time.monotonic()
        stack.start()
        try:
            healthy_after = time.monotonic() - t0
            pids = {part.name: part.proc.pid for part in stack.parts if part.proc}
            time.sleep(2)  # let start-up work (first imports, caches) settle
            idle = {name: memory_mib(pid) for name, pid in pids.items()}
            start_cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
            for i in range(messages):
                post_json(stack.rest_url, {"sender": f"measure-{i % conversations}",
                                           "message": QUESTIONS[i % len(QUESTIONS)]})
            after = {name: memory_mib(pid) for name, pid in pids.items()}
            used = {name: cpu_seconds(pid) - start_cpu[name] for name, pid in pids.items()}
        finally:
            stack.stop()
    return {
        "healthy_after_s": round(healthy_after, 1),
        "messages": messages,
        "conversations": conversations,
        "servers": {
            name: {
                "rss_idle_mib": idle[name]["VmRSS"],
                "rss_after_mib": after[name]["VmRSS"],
                "rss_peak_mib": after[name]["VmHWM"],
                "start_cpu_s": round(start_cpu[name], 2),
                "cpu_ms_per_message": round(1000 * used[name] / max(messages, 1), 1),
            }
            for name in pids
        },
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=1500)
    ap.add_argument("--conversations", type=int, default=300)
    args = ap.parse_args()
    print(json.dumps(measure(args.messages, max(args.conversations, 1)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
