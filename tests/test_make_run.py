"""`make run`'s launcher (scripts/stack.py run): it stops every server however it is
stopped, says why a part failed to start, and restarts a part that dies while it runs.

The servers run in their own sessions, so a launcher that died on SIGTERM or ignored
SIGINT (as background jobs do) would leave them running and holding their ports.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest
import requests

import supervision
from channels.guard import APOLOGY
from stack import DISCLAIMER_MARK, ROOT, free_port, http_get, port_free


@pytest.mark.parametrize("signals", [
    [signal.SIGTERM],
    [signal.SIGINT],
    # An impatient second Ctrl-C (or a `kill` after one) while the servers are stopping.
    [signal.SIGINT, signal.SIGTERM],
], ids=lambda sigs: "+".join(s.name for s in sigs))
def test_launcher_stops_every_server_on_a_signal(signals: list[signal.Signals]) -> None:
    ports = {"BACLOFEN_RASA_PORT": free_port(), "BACLOFEN_ACTIONS_PORT": free_port(),
             "BACLOFEN_WEB_PORT": free_port()}
    env = {**os.environ, **{k: str(v) for k, v in ports.items()}}
    # SIG_IGN for SIGINT is what a background job inherits; the launcher must undo it.
    proc = subprocess.Popen([sys.executable, "scripts/stack.py", "run"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "is running" in line:
                break
        else:
            pytest.fail("the launcher ended before the stack was up:\n" + "".join(lines[-30:]))
        assert not any(port_free(p) for p in ports.values())
        for sig in signals:
            proc.send_signal(sig)
            time.sleep(0.5)  # the first signal's clean-up is under way when the next arrives
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out[-2000:]
        assert "Traceback" not in out
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(port_free(p) for p in ports.values()):
            time.sleep(0.2)
        assert all(port_free(p) for p in ports.values()), "a server outlived the launcher"
    finally:
        if proc.poll() is None:
            proc.kill()


def test_when_rasa_fails_on_messages_the_launcher_shows_rasas_own_log(tmp_path) -> None:
    """The issue's crash: a spaCy pipeline with one lexicon aspect more than the trained model
    knows makes every message fail inside Rasa ("X has N features, but … is expecting N-1").
    The user then got the channel's apology, and the launcher showed the action server's log."""
    import json
    import shutil

    pipeline = tmp_path / "baclofen_nlp"
    shutil.copytree(ROOT / "build" / "spacy" / "baclofen_nlp", pipeline)
    patterns = pipeline / "entity_ruler" / "patterns.jsonl"
    with patterns.open("a", encoding="utf-8") as out:
        out.write(json.dumps({"label": "ASPECT", "id": "a_new_aspect", "pattern": "zzqx"}) + "\n")
    ports = {"BACLOFEN_RASA_PORT": free_port(), "BACLOFEN_ACTIONS_PORT": free_port(),
             "BACLOFEN_WEB_PORT": free_port()}
    env = {**os.environ, **{k: str(v) for k, v in ports.items()}, "BACLOFEN_SPACY_PATH": str(pipeline)}
    done = subprocess.run([sys.executable, "scripts/stack.py", "run"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Rasa server (" in done.stderr and "features, but" in done.stderr, done.stderr[-3000:]
    assert all(port_free(p) for p in ports.values())


# ---- self-healing: `make run` restarts a part that dies -------------------------------


class Launcher:
    """`scripts/stack.py run` (what `make run` runs) as a subprocess on free ports, with its
    logs and conversations in `home`; its console is collected line by line."""

    def __init__(self, home: Path, ports: Optional[Dict[str, int]] = None, **env: str) -> None:
        self.ports = ports or {"BACLOFEN_RASA_PORT": free_port(), "BACLOFEN_ACTIONS_PORT": free_port(),
                               "BACLOFEN_WEB_PORT": free_port()}
        self.log_dir = home / "logs"
        self.env = {**os.environ, **{k: str(v) for k, v in self.ports.items()},
                    "BACLOFEN_LOG_DIR": str(self.log_dir), "BACLOFEN_DATA_DIR": str(home / "data"),
                    "BACLOFEN_TRACKER_URL": f"sqlite:///{home}/conversations.sqlite", **env}
        self.files = supervision.files_for(ROOT, self.log_dir, str(self.ports["BACLOFEN_RASA_PORT"]))
        self.lines: List[str] = []
        self.proc: Optional[subprocess.Popen] = None

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['BACLOFEN_RASA_PORT']}/webhooks/rest/webhook"

    def port(self, name: str) -> int:
        return self.ports[name]

    def start(self, timeout: float = 300.0) -> "Launcher":
        self.proc = subprocess.Popen([sys.executable, "scripts/stack.py", "run"], cwd=ROOT, env=self.env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._collect, daemon=True).start()
        self.wait_for_console("is running", timeout)
        return self

    def _collect(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def console(self) -> str:
        return "".join(self.lines)

    def wait_for_console(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.console():
            assert self.proc is not None
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"no {text!r} on the console:\n{self.console()[-3000:]}")
            time.sleep(0.2)

    def kill(self, port: int) -> int:
        """kill -9 the server on `port`; return its PID once the port refuses connections."""
        pid = pid_listening_on(port)
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: refused(port), 10, f"the killed server's port {port} closing")
        return pid

    def stop(self) -> str:
        """SIGTERM, as `kill` would; the launcher must exit 0 with every port free."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=90)
        assert self.proc.returncode == 0, self.console()[-3000:]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(port_free(p) for p in self.ports.values()):
            time.sleep(0.2)
        assert all(port_free(p) for p in self.ports.values()), "a server outlived the launcher"
        return self.console()

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def log(self, path: Path) -> str:
        return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture()
def launcher(tmp_path: Path) -> Iterator[Callable[..., Launcher]]:
    started: List[Launcher] = []

    def start(**kwargs: Any) -> Launcher:
        started.append(Launcher(tmp_path, **kwargs).start())
        return started[-1]

    yield start
    for one in started:
        one.close()


def ask(url: str, message: str, sender: str) -> Tuple[int, List[str]]:
    """POST one message over REST: (HTTP status, reply texts); (0, []) when refused."""
    try:
        r = requests.post(url, json={"sender": sender, "message": message}, timeout=60)
    except requests.ConnectionError:
        return 0, []
    assert "Traceback" not in r.text, r.text
    return r.status_code, [m.get("text", "") for m in r.json()] if r.status_code == 200 else []


def pid_listening_on(port: int) -> int:
    """The process that listens on the TCP port (from /proc: the launcher's own bookkeeping
    is what is under test)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            for row in list(rows)[1:]:
                local, state, inode = row.split()[1], row.split()[3], row.split()[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                    inodes.add(f"socket:[{inode}]")
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            if os.readlink(fd) in inodes:
                return int(fd.parts[2])
        except OSError:
            continue
    pytest.fail(f"nothing listens on port {port}")


def refused(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll `check` until true; return the seconds it took."""
    t0 = time.monotonic()
    while not check():
        if time.monotonic() - t0 > timeout:
            pytest.fail(f"{what} not within {timeout:.0f} s")
        time.sleep(0.2)
    return time.monotonic() - t0


def answers(url: str, sender: str) -> bool:
    status, texts = ask(url, "what is baclofen?", sender)
    return status == 200 and bool(texts) and texts[-1].startswith(DISCLAIMER_MARK) and APOLOGY not in texts


@pytest.mark.stack
def test_a_killed_action_server_is_restarted_and_users_get_the_apology_meanwhile(launcher) -> None:
    # This test also drives the action server into supervisord's FATAL, with a port that
    # accepts no connection: a short watchdog pause and turn timeout keep it quick.
    run = launcher(BACLOFEN_RESTART_PAUSE_SECONDS="3", BACLOFEN_TURN_TIMEOUT_SECONDS="8")
    actions_port = run.port("BACLOFEN_ACTIONS_PORT")
    assert answers(run.rest_url, "patient-1")

    old = run.kill(actions_port)
    # The gap: Rasa is up, its action server is not. The user still gets the safe apology.
    assert ask(run.rest_url, "what is baclofen?", "patient-1") == (200, [APOLOGY])
    seconds = wait_until(lambda: answers(run.rest_url, "patient-1"), 60, "an answer after the restart")
    print(f"action server answering again {seconds:.1f} s after kill -9")
    assert pid_listening_on(actions_port) != old
    run.wait_for_console("The action server is back", 10)
    assert "The action server stopped unexpectedly" in run.console()
    log = run.log(run.files.supervisor_log)
    assert "exited: action-server (terminated by SIGKILL; not expected)" in log
    assert log.count("spawned: 'action-server'") == 2

    # A crash loop: every new action server dies at once (its port is taken) until
    # supervisord gives up (FATAL); the watchdog starts it again once the cause is gone.
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    run.kill(actions_port)
    blocker.bind(("0.0.0.0", actions_port))  # before the new one has imported its code
    blocker.listen(1)
    try:
        wait_until(lambda: "gave up: action-server" in run.log(run.files.supervisor_log), 90,
                   "supervisord giving up on the action server")
        assert ask(run.rest_url, "what is baclofen?", "patient-2") == (200, [APOLOGY])
    finally:
        blocker.close()
    wait_until(lambda: answers(run.rest_url, "patient-2"), 90, "an answer after the watchdog's restart")
    watchdog = run.log(run.files.watchdog_log)
    assert "action-server entered FATAL" in watchdog and "started action-server again" in watchdog
    run.stop()


@pytest.mark.stack
def test_a_killed_rasa_server_is_restarted(launcher) -> None:
    run = launcher()
    assert answers(run.rest_url, "carer-1")
    old = run.kill(run.port("BACLOFEN_RASA_PORT"))
    # The gap: nothing listens (the widget shows its "unavailable" notice, tests/browser);
    # a REST client is refused, never served an error page or a traceback (ask() checks).
    status, _ = ask(run.rest_url, "what is baclofen?", "carer-1")
    assert status in (0, 200), status
    seconds = wait_until(lambda: answers(run.rest_url, "carer-1"), 120, "an answer after the restart")
    print(f"Rasa server answering again {seconds:.1f} s after kill -9")
    assert pid_listening_on(run.port("BACLOFEN_RASA_PORT")) != old
    run.wait_for_console("The Rasa server is back", 10)
    assert "exited: rasa-server (terminated by SIGKILL; not expected)" in run.log(run.files.supervisor_log)
    run.stop()


@pytest.mark.stack
def test_a_killed_web_page_is_restarted_and_logs_survive_the_next_start(launcher) -> None:
    first = launcher()
    web_port, rasa_port = first.port("BACLOFEN_WEB_PORT"), first.port("BACLOFEN_RASA_PORT")
    page = f"http://127.0.0.1:{web_port}/"
    first.kill(web_port)
    wait_until(lambda: http_get(page) is not None, 30, "the page served again")
    assert f'data-server="http://127.0.0.1:{rasa_port}"' in (http_get(page) or "")
    first.wait_for_console("The web chat page is back", 10)
    first.stop()
    logs = {path.name: path.read_text(errors="replace") for path in first.log_dir.glob("*.log")}
    assert "exited: web-chat-page (terminated by SIGKILL; not expected)" in logs[first.files.supervisor_log.name]

    # The same stack started again: every log goes on where the first run ended.
    second = launcher(ports=first.ports)
    for name, before in logs.items():
        after = (first.log_dir / name).read_text(errors="replace")
        assert after.startswith(before) and len(after) > len(before), name
    assert first.log(first.files.supervisor_log).count("supervisord started with pid") == 2
    second.stop()


def test_the_supervisord_config_restarts_every_part_with_backoff_and_rotates_its_log(tmp_path: Path) -> None:
    """Read by supervisord's own parser: what `make run` asks of supervisord."""
    from supervisor.datatypes import RestartUnconditionally
    from supervisor.options import ServerOptions

    from stack import SupervisedStack

    stack = SupervisedStack(rasa_port=free_port(), actions_port=free_port(), web_port=free_port(),
                            log_dir=tmp_path / "logs")
    stack.parts = stack._parts()
    stack.files = supervision.Files(run_dir=tmp_path / "run", log_dir=stack.log_dir, tag="test")
    stack.files.run_dir.mkdir()
    stack.log_dir.mkdir()
    conf = tmp_path / "supervisord.conf"
    conf.write_text(stack._config())
    options = ServerOptions()
    options.configfile = str(conf)
    options.process_config(do_usage=False)
    groups = {g.name: g for g in options.process_group_configs}
    programs = {name: g.process_configs[0] for name, g in groups.items()}
    assert set(programs) == {"action-server", "rasa-server", "web-chat-page", supervision.WATCHDOG}
    for part in stack.parts:
        program = programs[supervision.program_name(part.name)]
        assert program.command.split()[0] == part.cmd[0] and str(part.port) in program.command
        assert program.autorestart is RestartUnconditionally and program.startretries == supervision.START_RETRIES
        assert program.stdout_logfile == str(part.log) and program.redirect_stderr
        assert program.stdout_logfile_maxbytes == supervision.LOG_MAX_BYTES and program.stdout_logfile_backups > 0
        assert program.killasgroup and program.stopasgroup
    assert options.logfile == str(stack.log_dir / "supervisord-test.log") and options.logfile_backups > 0
    assert {e.__name__ for e in groups[supervision.WATCHDOG].pool_events} == {"ProcessStateFatalEvent", "ProcessStateRunningEvent",
                                                          "Tick5Event"}


def test_the_watchdog_pause_doubles_up_to_its_cap_and_resets_once_a_part_stays_up() -> None:
    from restart_watchdog import Backoff

    backoff = Backoff(pause=30, max_pause=100)
    assert [backoff.gave_up("rasa-server", now=0) for _ in range(4)] == [30, 60, 100, 100]
    assert backoff.take_due(99) == [] and backoff.take_due(100) == ["rasa-server"]
    assert backoff.running("rasa-server") and not backoff.running("rasa-server")
    assert backoff.gave_up("rasa-server", now=0) == 30


# Settings `make run` must apply itself: the launcher and the servers it starts never read
# scripts/common.sh, so none of these may depend on a variable exported there.
UNSET_BY_MAKE_RUN = ("SANIC_REQUEST_MAX_SIZE", "BACLOFEN_MAX_REQUEST_BYTES", "BACLOFEN_MAX_MESSAGE_CHARS",
                     "BACLOFEN_TURN_TIMEOUT_SECONDS", "BACLOFEN_ACTIONS_TOKEN", "BACLOFEN_BIND_ADDRESS",
                     "BACLOFEN_ALLOWED_ORIGINS")


def test_make_run_applies_its_limits_with_nothing_set_up(tmp_path: Path) -> None:
    from safety.input_guard import DEFAULT_MAX_CHARS

    one = Launcher(tmp_path)
    for name in UNSET_BY_MAKE_RUN:
        one.env.pop(name, None)
    one.start()
    try:
        actions = one.port("BACLOFEN_ACTIONS_PORT")
        # The request body cap (the probe's 99 MB body was accepted, +588 MB in Rasa).
        big = b'{"sender": "big", "message": "' + b"A" * 3_000_000 + b'"}'
        r = requests.post(one.rest_url, data=big, headers={"Content-Type": "application/json"}, timeout=60)
        assert r.status_code == 413 and "AAAAAAAAAA" not in r.text
        # The message-length cap: a friendly reply, not NLU on 5,000 characters.
        status, texts = ask(one.rest_url, "what is baclofen? " * (DEFAULT_MAX_CHARS // 10), "long")
        assert status == 200 and texts and str(DEFAULT_MAX_CHARS) in " ".join(texts).replace(",", "")
        # The action server got a generated token (Rasa has it: the launcher's probe was answered)...
        forged = {"next_action": "action_answer", "sender_id": "x", "tracker": {"sender_id": "x", "events": []}}
        assert requests.post(f"http://127.0.0.1:{actions}/webhook", json=forged, timeout=10).status_code == 401
        # ...and every server listens on loopback only.
        for port in one.ports.values():
            with open("/proc/net/tcp") as rows:
                listening = {row.split()[1] for row in list(rows)[1:]
                             if row.split()[3] == "0A" and int(row.split()[1].rsplit(":", 1)[1], 16) == port}
            assert listening == {f"0100007F:{port:04X}"}, port
        # The turn timeout (default 30 s, from code): with the action server frozen, the
        # user gets the apology with the emergency numbers, not a request hanging for minutes.
        from channels.guard import APOLOGY, DEFAULT_TURN_TIMEOUT

        frozen = pid_listening_on(actions)
        os.kill(frozen, signal.SIGSTOP)
        try:
            start = time.monotonic()
            status, texts = ask(one.rest_url, "how should I store baclofen tablets?", "frozen")
            waited = time.monotonic() - start
        finally:
            os.kill(frozen, signal.SIGCONT)
        assert status == 200 and texts == [APOLOGY], texts
        assert DEFAULT_TURN_TIMEOUT - 1 <= waited <= DEFAULT_TURN_TIMEOUT + 15, waited
    finally:
        one.stop()


def test_make_run_refuses_the_http_api_without_a_token() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("BACLOFEN_API_TOKEN", "BACLOFEN_JWT_SECRET")}
    env.update(BACLOFEN_ENABLE_API="1", BACLOFEN_RASA_PORT=str(free_port()),
               BACLOFEN_ACTIONS_PORT=str(free_port()), BACLOFEN_WEB_PORT=str(free_port()))
    proc = subprocess.Popen([sys.executable, "scripts/stack.py", "run"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=90)
        pytest.fail("make run started with the HTTP API open")
    assert proc.returncode == 1
    errors = [line for line in err.splitlines() if line.strip()]
    assert len(errors) == 1 and "BACLOFEN_API_TOKEN" in errors[0] and "Traceback" not in err, err
    assert "is running" not in out
