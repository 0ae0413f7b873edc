"""supervisord event listener: start again a part that supervisord gave up on.

supervisord retries a part that keeps dying while it starts only START_RETRIES times, then
leaves it FATAL (stopped for good). The cause often passes (a database back, a port freed,
memory available again), so this listener starts it again after --pause seconds, doubling
the pause after each give-up up to --max-pause, and forgets the count once the part has
stayed up (RUNNING). It logs every decision to stderr, which supervisord writes to
build/logs/restart-watchdog-<port>.log; stdout is supervisord's event protocol.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import xmlrpc.client
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from supervisor import childutils

log = logging.getLogger("restart-watchdog")


@dataclass
class Backoff:
    """When to start each given-up program again."""

    pause: float
    max_pause: float
    give_ups: Dict[str, int] = field(default_factory=dict)
    due: Dict[str, float] = field(default_factory=dict)

    def gave_up(self, name: str, now: float) -> float:
        """Record a FATAL; return the pause before the next start."""
        count = self.give_ups.get(name, 0) + 1
        self.give_ups[name] = count
        wait = min(self.pause * 2 ** (count - 1), self.max_pause)
        self.due[name] = now + wait
        return wait

    def running(self, name: str) -> bool:
        """Record that the program stayed up; True if it had been given up on."""
        self.due.pop(name, None)
        return self.give_ups.pop(name, 0) > 0

    def take_due(self, now: float) -> List[str]:
        names = [name for name, when in self.due.items() if when <= now]
        for name in names:
            del self.due[name]
        return names


def start(rpc: xmlrpc.client.ServerProxy, name: str, attempt: int) -> None:
    try:
        rpc.supervisor.startProcess(name, False)  # don't wait: supervisord is serving us
        log.warning("started %s again (after give-up %d)", name, attempt)
    except xmlrpc.client.Fault as e:
        log.warning("could not start %s again: %s", name, e.faultString)


def handle(event: str, payload: str, backoff: Backoff, rpc: xmlrpc.client.ServerProxy, me: Optional[str]) -> None:
    now = time.monotonic()
    if event.startswith("TICK_"):
        for name in backoff.take_due(now):
            start(rpc, name, backoff.give_ups.get(name, 0))
        return
    name = childutils.get_headers(payload.split("\n", 1)[0]).get("processname", "")
    if not name or name == me:
        return
    if event == "PROCESS_STATE_FATAL":
        wait = backoff.gave_up(name, now)
        log.warning("%s entered FATAL (kept dying while starting); starting it again in %.0f s", name, wait)
    elif event == "PROCESS_STATE_RUNNING" and backoff.running(name):
        log.warning("%s is running again", name)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pause", type=float, default=30.0, help="seconds before the first start again")
    ap.add_argument("--max-pause", type=float, default=300.0, help="longest pause")
    args = ap.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    rpc = childutils.getRPCInterface(os.environ)
    backoff = Backoff(pause=args.pause, max_pause=args.max_pause)
    me = os.environ.get("SUPERVISOR_PROCESS_NAME")
    log.info("watching (first pause %.0f s, at most %.0f s)", args.pause, args.max_pause)
    while True:
        headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
        try:
            handle(headers.get("eventname", ""), payload, backoff, rpc, me)
        except Exception:  # never die on one event: supervisord would have no watchdog meanwhile
            log.exception("could not handle %s", headers.get("eventname"))
        childutils.listener.ok(sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
