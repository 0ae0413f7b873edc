"""Start, health-check and stop the running product: action server, Rasa server, web page.

Used by `make run` (foreground, Ctrl-C stops everything), by the tests (a pytest
fixture starts the stack on free ports) and by the benchmark, so that all three
run the product the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
PROBE_QUESTION = "what are the side effects of baclofen?"
DISCLAIMER_MARK = "ℹ️"


class StackError(RuntimeError):
    """A part of the stack failed to start; the message says which and why."""


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 2.0) -> Optional[str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError, ValueError):
        return None


def post_json(url: str, payload: dict, timeout: float = 30.0) -> object:
    req = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read().decode("utf-8"))


@dataclass
class Part:
    name: str
    port: int
    cmd: List[str]
    health_url: str
    env_var: str
    log: Path
    proc: Optional[subprocess.Popen] = None

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def problems(self, lines: int = 12) -> str:
        """What went wrong, from the log: its exception and ERROR lines ("ValueError: X has
        19565 features…") without the traceback frames, or its last lines when it has none."""
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        found = [line for line in text if _PROBLEM.search(line)]
        return "\n".join(list(dict.fromkeys(found))[-lines:] if found else text[-lines:])


# An exception's message line ("ValueError: …", "rasa.engine.exceptions.GraphComponentException: …")
# or a log line at ERROR or CRITICAL level.
_PROBLEM = re.compile(r"^[\w.]+(?:Error|Exception)\b|\s(?:ERROR|CRITICAL)\s")


@dataclass
class Stack:
    rasa_port: int = int(os.environ.get("BACLOFEN_RASA_PORT", 5005))
    actions_port: int = int(os.environ.get("BACLOFEN_ACTIONS_PORT", 5055))
    web_port: int = int(os.environ.get("BACLOFEN_WEB_PORT", 8080))
    model: Path = Path(os.environ.get("BACLOFEN_MODELS_DIR", ROOT / "models")) / "baclofen.tar.gz"
    log_dir: Path = ROOT / "build" / "logs"
    # Durable state (the conversation store): outside build/, so `make clean` keeps it.
    data_dir: Path = Path(os.environ.get("BACLOFEN_DATA_DIR", ROOT / "var"))
    # Where conversations are kept; None means BACLOFEN_TRACKER_URL, else a SQLite file in
    # data_dir. Tests and gates pass a throwaway file so they never share a conversation.
    tracker_url: Optional[str] = None
    enable_api: bool = os.environ.get("BACLOFEN_ENABLE_API", "") == "1"
    with_web: bool = True
    extra_env: Dict[str, str] = field(default_factory=dict)
    parts: List[Part] = field(default_factory=list)

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}/webhooks/rest/webhook"

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    def _env(self) -> Dict[str, str]:
        env = dict(os.environ)
        env.update(
            BACLOFEN_RASA_PORT=str(self.rasa_port),
            BACLOFEN_ACTIONS_PORT=str(self.actions_port),
            BACLOFEN_ACTIONS_URL=f"http://127.0.0.1:{self.actions_port}/webhook",
            PYTHONPATH=str(ROOT),
            RASA_TELEMETRY_ENABLED="false",
            TF_CPP_MIN_LOG_LEVEL="2",
        )
        env["BACLOFEN_TRACKER_URL"] = (self.tracker_url or os.environ.get("BACLOFEN_TRACKER_URL")
                                       or f"sqlite:///{self.data_dir}/conversations.sqlite")
        env.setdefault("BACLOFEN_KB_URL", f"sqlite:///{ROOT}/build/knowledge.db")
        env.setdefault("BACLOFEN_SPACY_PATH", str(ROOT / "build" / "spacy" / "baclofen_nlp"))
        env.update(self.extra_env)
        return env

    def _parts(self) -> List[Part]:
        rasa = str(VENV_BIN / "rasa")
        rasa_cmd = [
            rasa, "run", "-m", str(self.model), "--port", str(self.rasa_port),
            "--credentials", "bot/credentials.yml", "--endpoints", "bot/endpoints.yml",
            "--cors", "*",
        ]
        if self.enable_api:
            rasa_cmd.append("--enable-api")
        parts = [
            Part("action server", self.actions_port,
                 # rasa_sdk directly: half the memory of `rasa run actions`, ready 3× sooner.
                 [str(VENV_BIN / "python"), "-m", "rasa_sdk", "--actions", "actions",
                  "--port", str(self.actions_port)],
                 f"http://127.0.0.1:{self.actions_port}/health", "BACLOFEN_ACTIONS_PORT",
                 self.log_dir / f"actions-{self.actions_port}.log"),
            Part("Rasa server", self.rasa_port, rasa_cmd,
                 f"http://127.0.0.1:{self.rasa_port}/", "BACLOFEN_RASA_PORT",
                 self.log_dir / f"rasa-{self.rasa_port}.log"),
        ]
        if self.with_web:
            parts.append(
                Part("web chat page", self.web_port,
                     [str(VENV_BIN / "python"), "-m", "http.server", str(self.web_port),
                      "--directory", str(ROOT / "web")],
                     f"http://127.0.0.1:{self.web_port}/", "BACLOFEN_WEB_PORT",
                     self.log_dir / f"web-{self.web_port}.log"))
        return parts

    def start(self, timeout: float = 180.0) -> None:
        if not self.model.exists():
            raise StackError(f"no trained model at {self.model}: run `make run` (it trains) or scripts/train.sh")
        self.parts = self._parts()
        for part in self.parts:
            if not port_free(part.port):
                raise StackError(
                    f"port {part.port} for the {part.name} is already in use: stop what uses it "
                    f"or choose another port with {part.env_var}=<port>")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = self._env()
        try:
            for part in self.parts:
                log = open(part.log, "w")
                # A new session per child so Ctrl-C handling and stop() reach every process.
                part.proc = subprocess.Popen(part.cmd, cwd=ROOT, env=env, stdout=log,
                                             stderr=subprocess.STDOUT, start_new_session=True)
            for part in self.parts:
                self._wait_healthy(part, timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_healthy(self, part: Part, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert part.proc is not None
            if part.proc.poll() is not None:
                raise StackError(f"the {part.name} exited during start-up (code {part.proc.returncode}). "
                                 f"Last lines of {part.log}:\n{part.tail()}")
            if http_get(part.health_url) is not None:
                return
            time.sleep(0.3)
        raise StackError(f"the {part.name} did not become healthy within {timeout:.0f} s. "
                         f"Last lines of {part.log}:\n{part.tail()}")

    def probe(self) -> str:
        """Ask one real question end to end; return the reply text or raise StackError."""
        try:
            replies = post_json(self.rest_url, {"sender": "startup-probe", "message": PROBE_QUESTION})
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise StackError(f"the Rasa server did not answer the probe question: {e}") from e
        text = "\n".join(r.get("text", "") for r in replies if isinstance(r, dict))  # type: ignore[union-attr]
        if DISCLAIMER_MARK not in text or "Source:" not in text:
            logs = "\n".join(f"{part.name} ({part.log}):\n{part.problems()}" for part in reversed(self.parts[:2]))
            raise StackError("the probe question did not get a knowledge-base answer with the disclaimer. "
                             f"Reply was: {text!r}\nLast problems in the logs:\n{logs}")
        return text

    def stop(self) -> None:
        for part in reversed(self.parts):
            if part.proc and part.proc.poll() is None:
                try:
                    os.killpg(part.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for part in self.parts:
            if part.proc:
                try:
                    part.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(part.proc.pid, signal.SIGKILL)
                    part.proc.wait()

    def stop_part(self, name: str) -> None:
        """Stop one part (tests use it to prove the product copes with a dead action server)."""
        for part in self.parts:
            if part.name == name and part.proc and part.proc.poll() is None:
                os.killpg(part.proc.pid, signal.SIGTERM)
                part.proc.wait(timeout=15)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum: int, frame: object) -> None:
    # Only the first signal interrupts: a second Ctrl-C (or a `kill` right after one) must not
    # cut stop() short and leave servers running in their own sessions.
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    raise KeyboardInterrupt


def _serve(stack: Stack) -> int:
    """Start the stack, print where to open it and watch it; return the exit code."""
    t0 = time.monotonic()
    try:
        stack.start()
        stack.probe()
    except StackError as e:
        print(f"\033[31mError: {e}\033[0m", file=sys.stderr)
        return 1
    print(f"\nBaclofen Assistant is running (started in {time.monotonic() - t0:.1f} s).")
    print(f"  Chat in your browser:  http://localhost:{stack.web_port}/")
    print(f"  REST API:              POST {stack.rest_url.replace('127.0.0.1', 'localhost')}  "
          '{"sender": "me", "message": "what is baclofen?"}')
    print(f"  Action server:         http://localhost:{stack.actions_port}/health")
    print(f"  Logs:                  {stack.log_dir}/")
    print("Press Ctrl-C to stop everything.\n", flush=True)
    while True:
        for part in stack.parts:
            if part.proc and part.proc.poll() is not None:
                print(f"\033[31mError: the {part.name} stopped unexpectedly (code {part.proc.returncode}). "
                      f"Last lines of {part.log}:\n{part.tail()}\033[0m", file=sys.stderr)
                return 1
        time.sleep(1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("command", choices=["run"])
    ap.parse_args()
    # The servers run in their own sessions, so Ctrl-C, `kill` and a closed terminal must
    # all come through here to stop them (SIGINT is ignored when started in the background).
    for sig in STOP_SIGNALS:
        signal.signal(sig, _interrupt)
    stack = Stack()
    try:
        # Everything after the handlers are set runs inside this try: a signal that lands
        # between two lines of the banner must still end in a clean stop, not a traceback.
        return _serve(stack)
    except KeyboardInterrupt:
        # start() stops what it started when interrupted: nothing running means start-up was cut.
        was_up = any(p.proc and p.proc.poll() is None for p in stack.parts)
        print("\nStopping…", flush=True)
        return 0 if was_up else 130
    finally:
        stack.stop()



@contextmanager
def rest_webhook(url: Optional[str] = None) -> Iterator[str]:
    """The REST webhook to send to: `url` when given, else one of a stack (no web server)
    started for the block and stopped after it (the answer and triage gates)."""
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="baclofen-gate-") as tmp:
        stack = Stack(rasa_port=free_port(), actions_port=free_port(), web_port=free_port(),
                      with_web=False, tracker_url=f"sqlite:///{tmp}/conversations.sqlite")
        stack.start()
        try:
            yield stack.rest_url
        finally:
            stack.stop()

if __name__ == "__main__":
    sys.exit(main())
