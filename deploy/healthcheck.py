"""The image's HEALTHCHECK: is the server this container runs able to answer?

One image runs either server, so the check finds which one by looking at the container's
own processes (its PID namespace holds only them) and asks it on the port it was started
with:
- the Rasa server: GET /webhooks/health/ready, 200 only when a model is loaded
  (channels/health.py; Rasa's `/` answers even without a model);
- the action server: GET /health.
Exit 0 when healthy, 1 otherwise (what Docker and podman expect). Standard library only.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterable, List, Optional, Tuple

RASA_PORT, ACTIONS_PORT = 5005, 5055
TIMEOUT_SECONDS = 4.0


def port_option(argv: List[str], default: int) -> int:
    """The value of `--port N` (or `--port=N`, `-p N`) in a command line, else `default`."""
    for i, arg in enumerate(argv):
        if arg in ("--port", "-p") and i + 1 < len(argv) and argv[i + 1].isdigit():
            return int(argv[i + 1])
        if arg.startswith("--port=") and arg[7:].isdigit():
            return int(arg[7:])
    return default


def health_url(argv: List[str]) -> Optional[str]:
    """The URL that tells whether the server started by `argv` is healthy; None if it is neither."""
    words = [Path(a).name for a in argv]
    # Our launcher (security/action_server.py) or rasa_sdk's own.
    if {"security.action_server", "rasa_sdk"} & set(argv) or "rasa_sdk" in words:
        return f"http://127.0.0.1:{port_option(argv, ACTIONS_PORT)}/health"
    if "rasa" in words and "run" in argv:
        run = argv.index("run")
        if argv[run + 1:run + 2] == ["actions"]:  # `rasa run actions` also serves actions
            return f"http://127.0.0.1:{port_option(argv, ACTIONS_PORT)}/health"
        return f"http://127.0.0.1:{port_option(argv, RASA_PORT)}/webhooks/health/ready"
    return None


def command_lines(proc: Path = Path("/proc")) -> Iterable[List[str]]:
    """The command line of every process visible here, lowest PID first."""
    pids = sorted((int(p.name) for p in proc.iterdir() if p.name.isdigit()))
    for pid in pids:
        try:
            raw = (proc / str(pid) / "cmdline").read_bytes()
        except OSError:
            continue  # the process ended while we looked
        if raw:
            yield [a.decode("utf-8", "replace") for a in raw.rstrip(b"\0").split(b"\0")]


def find_server(proc: Path = Path("/proc")) -> Optional[Tuple[List[str], str]]:
    """(command line, health URL) of the server running in this container, if any."""
    for argv in command_lines(proc):
        url = health_url(argv)
        if url:
            return argv, url
    return None


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def main() -> int:
    found = find_server()
    if found is None:
        print("unhealthy: no Rasa or action server process in this container", file=sys.stderr)
        return 1
    _, url = found
    if not healthy(url):
        print(f"unhealthy: {url} did not answer 200", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
