"""Start, health-check and stop the running product: action server, Rasa server, web page.

Used by `make run` (foreground, Ctrl-C stops everything), by the tests (a pytest
fixture starts the stack on free ports) and by the benchmark, so that all three
run the product the same way. `make run` runs the parts under supervisord
(SupervisedStack, scripts/supervision.py), which restarts any part that dies;
the tests and the benchmark start them directly (Stack), so a part they stop stays stopped.
"""

from __future__ import annotations

import argparse
import ctypes
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import xmlrpc.client
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional

try:  # run as scripts/stack.py, or imported with scripts/ on sys.path (the tests)
    import supervision
except ImportError:  # imported as scripts.stack (the benchmark)
    from scripts import supervision

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as scripts/stack.py: security/ is the project's
    sys.path.insert(0, str(ROOT))

from security.action_server import TOKEN_ENV as ACTIONS_TOKEN_ENV  # noqa: E402
from security.origins import allowed_origins  # noqa: E402
from security.server_limits import BIND_ENV, bind_address  # noqa: E402

API_TOKEN_ENV = "BACLOFEN_API_TOKEN"
JWT_SECRET_ENV = "BACLOFEN_JWT_SECRET"
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
    # Where this run's lines begin in the log: logs are appended to, never wiped.
    log_start: int = 0
    # A part that must run elsewhere (the benchmark's stock action server, in its project).
    cwd: Optional[Path] = None
    env: Dict[str, str] = field(default_factory=dict)

    def mark_log(self) -> None:
        """Remember the log's end, so tail() and problems() read only this run."""
        try:
            self.log_start = self.log.stat().st_size
        except OSError:
            self.log_start = 0

    def settle(self, quiet: float = 0.5, timeout: float = 5.0) -> None:
        """Wait until the log stops growing: under supervisord a part's output reaches its
        log through supervisord, a moment after the part wrote it (an error, then a reply)."""
        deadline = time.monotonic() + timeout
        size = -1
        while time.monotonic() < deadline:
            try:
                now = self.log.stat().st_size
            except OSError:
                return
            if now == size:
                return
            size = now
            time.sleep(quiet)

    def _this_run(self) -> Optional[List[str]]:
        try:
            with open(self.log, "rb") as f:
                # Smaller than at the start: it was rotated, and all of it is this run's.
                f.seek(self.log_start if f.seek(0, os.SEEK_END) >= self.log_start else 0)
                return f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return None

    def tail(self, lines: int = 15) -> str:
        text = self._this_run()
        return "(no log)" if text is None else "\n".join(text[-lines:])

    def problems(self, lines: int = 12) -> str:
        """What went wrong, from the log: its exception and ERROR lines ("ValueError: X has
        19565 features…") without the traceback frames, or its last lines when it has none."""
        text = self._this_run()
        if text is None:
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
    log_dir: Path = Path(os.environ.get("BACLOFEN_LOG_DIR", ROOT / "build" / "logs"))
    # Durable state (the conversation store): outside build/, so `make clean` keeps it.
    data_dir: Path = Path(os.environ.get("BACLOFEN_DATA_DIR", ROOT / "var"))
    # Where conversations are kept; None means BACLOFEN_TRACKER_URL, else a SQLite file in
    # data_dir. Tests and gates pass a throwaway file so they never share a conversation.
    tracker_url: Optional[str] = None
    enable_api: bool = os.environ.get("BACLOFEN_ENABLE_API", "") == "1"
    # The Rasa address the web page's widget uses; None: the page's host at rasa_port.
    public_rasa_url: Optional[str] = os.environ.get("BACLOFEN_PUBLIC_RASA_URL") or None
    with_web: bool = True
    extra_env: Dict[str, str] = field(default_factory=dict)
    parts: List[Part] = field(default_factory=list)
    # The token Rasa sends the action server: BACLOFEN_ACTIONS_TOKEN, else a fresh random
    # one per start, given to both (so `make run` needs no set-up).
    actions_token: Optional[str] = None

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}/webhooks/rest/webhook"

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    def _setting(self, name: str) -> str:
        """A setting as the servers will see it: extra_env first, then the environment."""
        return (self.extra_env.get(name) or os.environ.get(name, "")).strip()

    def _env(self) -> Dict[str, str]:
        env = dict(os.environ)
        if self.actions_token is None:
            self.actions_token = self._setting(ACTIONS_TOKEN_ENV) or secrets.token_hex(32)
        env[ACTIONS_TOKEN_ENV] = self.actions_token
        env.update(
            BACLOFEN_RASA_PORT=str(self.rasa_port),
            BACLOFEN_ACTIONS_PORT=str(self.actions_port),
            # The example page's origin is the default CORS allowlist (security/origins.py).
            BACLOFEN_WEB_PORT=str(self.web_port),
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
        env[ACTIONS_TOKEN_ENV] = self.actions_token
        return env

    def _api_auth(self) -> List[str]:
        """Rasa's options protecting its HTTP API; StackError when it would be open."""
        token, jwt_secret = self._setting(API_TOKEN_ENV), self._setting(JWT_SECRET_ENV)
        if not token and not jwt_secret:
            raise StackError(f"BACLOFEN_ENABLE_API=1 needs {API_TOKEN_ENV} (or {JWT_SECRET_ENV}): "
                             "without one, anyone reaching Rasa could read and rewrite every conversation")
        return (["--auth-token", token] if token else []) + (["--jwt-secret", jwt_secret] if jwt_secret else [])

    def _bind(self) -> str:
        return bind_address({BIND_ENV: self._setting(BIND_ENV)})

    def _parts(self) -> List[Part]:
        rasa = str(VENV_BIN / "rasa")
        rasa_cmd = [
            rasa, "run", "-m", str(self.model), "--port", str(self.rasa_port),
            "--credentials", "bot/credentials.yml", "--endpoints", "bot/endpoints.yml",
            "--interface", self._bind(),
            # Only the allowed origins, never credentials (security/server_limits.py enforces
            # both inside Rasa as well, whatever --cors says).
            "--cors", *allowed_origins(self._env()),
        ]
        if self.enable_api:
            rasa_cmd += ["--enable-api", *self._api_auth()]
        parts = [
            Part("action server", self.actions_port,
                 # rasa_sdk's app behind our token and limits: half the memory of
                 # `rasa run actions`, ready 3× sooner.
                 [str(VENV_BIN / "python"), "-m", "security.action_server", "--actions", "actions",
                  "--port", str(self.actions_port), "--bind", self._bind()],
                 f"http://127.0.0.1:{self.actions_port}/health", "BACLOFEN_ACTIONS_PORT",
                 self.log_dir / f"actions-{self.actions_port}.log"),
            Part("Rasa server", self.rasa_port, rasa_cmd,
                 f"http://127.0.0.1:{self.rasa_port}/", "BACLOFEN_RASA_PORT",
                 self.log_dir / f"rasa-{self.rasa_port}.log"),
        ]
        if self.with_web:
            web_cmd = [str(VENV_BIN / "python"), str(ROOT / "scripts" / "web_page.py"),
                       "--port", str(self.web_port), "--rasa-port", str(self.rasa_port),
                       "--bind", self._bind()]
            if self.public_rasa_url:
                web_cmd += ["--public-rasa-url", self.public_rasa_url]
            parts.append(
                Part("web chat page", self.web_port, web_cmd,
                     f"http://127.0.0.1:{self.web_port}/", "BACLOFEN_WEB_PORT",
                     self.log_dir / f"web-{self.web_port}.log"))
        return parts

    def _prepare(self) -> None:
        """Check what start() needs (a model, free ports) and lay out its parts and folders."""
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
        for part in self.parts:
            part.mark_log()

    def start(self, timeout: float = 180.0) -> None:
        self._prepare()
        env = self._env()
        try:
            for part in self.parts:
                log = open(part.log, "a")
                # A new session per child so Ctrl-C handling and stop() reach every process.
                part.proc = subprocess.Popen(part.cmd, cwd=part.cwd or ROOT, env={**env, **part.env},
                                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            for part in self.parts:
                self._wait_healthy(part, timeout)
        except BaseException:
            self.stop()
            raise

    def _exit_reason(self, part: Part) -> Optional[str]:
        """Why the part is no longer running (e.g. "code 1"), or None while it runs."""
        assert part.proc is not None
        code = part.proc.poll()
        return None if code is None else f"code {code}"

    def _wait_healthy(self, part: Part, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reason = self._exit_reason(part)
            if reason is not None:
                part.settle()
                raise StackError(f"the {part.name} exited during start-up ({reason}). "
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
            for part in self.parts[:2]:
                part.settle()
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

    def running(self) -> bool:
        """True while any part is running."""
        return any(p.proc is not None and p.proc.poll() is None for p in self.parts)


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the launcher dies, even by SIGKILL, so an
    orphaned supervisord never keeps the ports (Linux; elsewhere the launcher's stop() only)."""
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


# supervisord's process states (supervisor.states.ProcessStates) as getProcessInfo names them.
_UP_STATES = ("STARTING", "RUNNING")
_FAILED_STATES = ("BACKOFF", "EXITED", "FATAL")


@dataclass
class SupervisedStack(Stack):
    """`make run`'s stack: supervisord runs the parts and restarts any that dies, with
    backoff (scripts/supervision.py). This process checks the start-up as Stack does,
    reports restarts on the console, and stops supervisord (which stops the parts) on
    Ctrl-C, `kill` or a closed terminal."""

    supervisord: Optional[subprocess.Popen] = None
    files: Optional[supervision.Files] = None
    # Last PID seen for each part: the fallback if supervisord cannot stop them.
    pids: Dict[str, int] = field(default_factory=dict)

    def program(self, part: Part) -> str:
        return supervision.program_name(part.name)

    def _config(self) -> str:
        assert self.files is not None
        programs = [supervision.Program(self.program(p), p.cmd, p.log) for p in self.parts]
        watchdog = [str(VENV_BIN / "python"), str(ROOT / "scripts" / "restart_watchdog.py"),
                    "--pause", str(supervision.PAUSE_SECONDS), "--max-pause", str(supervision.MAX_PAUSE_SECONDS)]
        return supervision.render(self.files, programs, watchdog, ROOT)

    def start(self, timeout: float = 180.0) -> None:
        self._prepare()
        self.files = supervision.files_for(ROOT, self.log_dir, str(self.rasa_port))
        self.files.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.files.conf.write_text(self._config())
        try:
            with open(self.files.console, "ab") as out:
                # Its own session: Ctrl-C reaches only this launcher, which stops it in order.
                self.supervisord = subprocess.Popen(
                    [str(VENV_BIN / "supervisord"), "-c", str(self.files.conf)], cwd=ROOT,
                    env=self._env(), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True, preexec_fn=_die_with_parent)
            for part in self.parts:
                self._wait_healthy(part, timeout)
            self.pids = self._current_pids()
        except BaseException:
            self.stop()
            raise

    def _infos(self) -> Dict[str, dict]:
        """supervisord's view of every program, by name; {} while its socket is not up."""
        assert self.files is not None
        try:
            return {i["name"]: i for i in supervision.control(self.files).supervisor.getAllProcessInfo()}
        except (OSError, http.client.HTTPException, xmlrpc.client.Error):
            return {}

    def _current_pids(self) -> Dict[str, int]:
        infos = self._infos()
        return {p.name: infos[self.program(p)]["pid"] for p in self.parts
                if infos.get(self.program(p), {}).get("pid")}

    def _supervisord_gone(self) -> Optional[str]:
        assert self.supervisord is not None
        code = self.supervisord.poll()
        if code is None:
            return None
        assert self.files is not None
        console = "\n".join(self.files.console.read_text(errors="replace").strip().splitlines()[-10:])
        return f"supervisord exited (code {code})" + (f":\n{console}" if console else "")

    def _exit_reason(self, part: Part) -> Optional[str]:
        gone = self._supervisord_gone()
        if gone:
            return gone
        info = self._infos().get(self.program(part))
        # Any stop since supervisord started means the part died while starting: say so now
        # rather than let supervisord retry a broken start-up behind the user's back.
        if info and (info["stop"] or info["statename"] in _FAILED_STATES):
            return info.get("spawnerr") or f"exit status {info['exitstatus']}"
        return None

    def stop(self) -> None:
        proc, self.supervisord = self.supervisord, None  # once: start() and main() both call it
        if proc is None:
            return
        stopped_them = False
        if proc.poll() is None:
            self.pids.update(self._current_pids())
            proc.terminate()  # supervisord stops the parts in reverse order, SIGKILL after stopwaitsecs
            try:
                proc.wait(timeout=supervision.STOP_WAIT_SECONDS * (len(self.parts) + 1))
                stopped_them = True  # supervisord exits only once every part has
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if not stopped_them:
            self._kill_leftovers()
        if self.files is not None:
            shutil.rmtree(self.files.run_dir, ignore_errors=True)

    def _kill_leftovers(self) -> None:
        """Kill what a dead or stuck supervisord left behind (each part leads its own
        process group)."""
        for pid in self.pids.values():
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def stop_part(self, name: str) -> None:
        """Stop one part for good (until started again through supervisorctl)."""
        assert self.files is not None
        part = next(p for p in self.parts if p.name == name)
        supervision.control(self.files).supervisor.stopProcess(self.program(part), True)

    def running(self) -> bool:
        return self.supervisord is not None and self.supervisord.poll() is None

    def watch(self, poll_seconds: float = 1.0) -> int:
        """Report each part that dies and comes back; return 1 if supervisord itself ends."""
        outages: Dict[str, _Outage] = {}
        while True:
            gone = self._supervisord_gone()
            if gone:
                print(f"\033[31mError: {gone}\033[0m", file=sys.stderr, flush=True)
                return 1
            infos = self._infos()
            for part in self.parts:
                info = infos.get(self.program(part))
                if info is not None:
                    self._report(part, info, outages)
            time.sleep(poll_seconds)

    def _report(self, part: Part, info: dict, outages: Dict[str, "_Outage"]) -> None:
        """One console line when a part dies, one if supervisord gives up on it, one when
        it answers again; supervisord's log has the details."""
        assert self.files is not None
        pid, state = info["pid"], info["statename"]
        outage = outages.get(part.name)
        if outage is None:
            if pid == self.pids.get(part.name) and state in _UP_STATES:
                return
            outages[part.name] = _Outage(time.monotonic())
            if state in ("STOPPING", "STOPPED"):  # someone ran `supervisorctl stop`
                print(f"The {part.name} was stopped through supervisorctl; "
                      f"`supervisorctl start {self.program(part)}` starts it again.", flush=True)
            else:
                print(f"\033[33mThe {part.name} stopped unexpectedly; supervisord is restarting it "
                      f"(see {self.files.supervisor_log}).\033[0m", flush=True)
        elif state == "FATAL" and not outage.gave_up:
            outage.gave_up = True
            print(f"\033[31mThe {part.name} keeps failing to start; it is tried again after a pause "
                  f"(see {part.log} and {self.files.watchdog_log}).\033[0m", flush=True)
        elif state in _UP_STATES and pid and http_get(part.health_url) is not None:
            self.pids[part.name] = pid
            del outages[part.name]
            print(f"The {part.name} is back (answering again after {time.monotonic() - outage.since:.1f} s).",
                  flush=True)


@dataclass
class _Outage:
    """A part that died and does not answer yet."""

    since: float
    gave_up: bool = False


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum: int, frame: object) -> None:
    # Only the first signal interrupts: a second Ctrl-C (or a `kill` right after one) must not
    # cut stop() short and leave servers running in their own sessions.
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    raise KeyboardInterrupt


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def _serve(stack: SupervisedStack) -> int:
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
    assert stack.files is not None
    print(f"  Logs:                  {stack.log_dir}/ (appended to, rotated at "
          f"{supervision.LOG_MAX_BYTES // 2**20} MB; restarts in {stack.files.supervisor_log.name})")
    print(f"  Parts:                 .venv/bin/supervisorctl -c {_relative(stack.files.conf)} status")
    print("A part that dies is restarted. Press Ctrl-C to stop everything.\n", flush=True)
    return stack.watch()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("command", choices=["run"])
    ap.parse_args()
    # The servers run in their own sessions, so Ctrl-C, `kill` and a closed terminal must
    # all come through here to stop them (SIGINT is ignored when started in the background).
    for sig in STOP_SIGNALS:
        signal.signal(sig, _interrupt)
    stack = SupervisedStack()
    try:
        # Everything after the handlers are set runs inside this try: a signal that lands
        # between two lines of the banner must still end in a clean stop, not a traceback.
        return _serve(stack)
    except KeyboardInterrupt:
        # start() stops what it started when interrupted: nothing running means start-up was cut.
        was_up = stack.running()
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
