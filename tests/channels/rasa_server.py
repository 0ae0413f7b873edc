"""Start a real Rasa server with all our channels, plus its action server, on free ports.

Model: $BACLOFEN_MODEL_PATH, else the project's models/baclofen.tar.gz (what `make test`
trains), else the tiny bot of tests/channels/tiny_bot.py. Outgoing platform APIs point
at a FakePlatforms server; every secret reaches Rasa through an environment variable
referenced as ${VAR} in the generated credentials.yml, as in production.
Logs go to a temporary folder, removed at the end unless BACLOFEN_KEEP_TEST_LOGS is set.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from tests.channels.tiny_bot import ROOT, tiny_bot_dir, tiny_model

RASA = str(ROOT / ".venv" / "bin" / "rasa")
PUBLIC_BASE = "https://bot.example.org"  # what Twilio/Telegram would call through a proxy

SECRETS: Dict[str, str] = {
    "TELEGRAM_TOKEN": "123456:TEST-telegram-token",
    "TELEGRAM_SECRET_TOKEN": "telegram-secret_42",
    "TWILIO_ACCOUNT_SID": "AC" + "a" * 32,
    "TWILIO_AUTH_TOKEN": "twilio-auth-token",
    "TWILIO_NUMBER": "+15005550006",
    "SLACK_TOKEN": "xoxb-test-token",
    "SLACK_SIGNING_SECRET": "slack-signing-secret",
    "FACEBOOK_VERIFY_TOKEN": "fb-verify-token",
    "FACEBOOK_APP_SECRET": "fb-app-secret",
    "FACEBOOK_PAGE_ACCESS_TOKEN": "fb-page-token",
}

CREDENTIALS = """
channels.rest.GuardedRestInput:
channels.socketio.GuardedSocketIOInput:
  user_message_evt: user_uttered
  bot_message_evt: bot_uttered
  session_persistence: true
channels.telegram.GuardedTelegramInput:
  access_token: ${{TELEGRAM_TOKEN}}
  secret_token: ${{TELEGRAM_SECRET_TOKEN}}
  webhook_url: {public}/webhooks/telegram/webhook
  api_base_url: {fake}
channels.twilio.GuardedTwilioInput:
  account_sid: ${{TWILIO_ACCOUNT_SID}}
  auth_token: ${{TWILIO_AUTH_TOKEN}}
  twilio_number: ${{TWILIO_NUMBER}}
  webhook_url: {public}/webhooks/twilio/webhook
  api_base_url: {fake}
channels.slack.GuardedSlackInput:
  slack_token: ${{SLACK_TOKEN}}
  slack_signing_secret: ${{SLACK_SIGNING_SECRET}}
  api_base_url: {fake}/api/
channels.facebook.GuardedFacebookInput:
  verify: ${{FACEBOOK_VERIFY_TOKEN}}
  secret: ${{FACEBOOK_APP_SECRET}}
  page-access-token: ${{FACEBOOK_PAGE_ACCESS_TOKEN}}
  api_base_url: {fake}
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def project_model() -> Optional[Path]:
    """The project's trained model, when there is one (else the tiny bot is used)."""
    explicit = os.environ.get("BACLOFEN_MODEL_PATH")
    if explicit:
        return Path(explicit)
    default = Path(os.environ.get("BACLOFEN_MODELS_DIR", ROOT / "models")) / "baclofen.tar.gz"
    return default if default.exists() else None


@dataclass
class RasaServer:
    fake_url: str
    turn_timeout: float = 6.0
    rasa_port: int = field(default_factory=free_port)
    actions_port: int = field(default_factory=free_port)
    work: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="baclofen-channels-")))
    procs: Dict[str, subprocess.Popen] = field(default_factory=dict)
    real_bot: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    def _env(self) -> Dict[str, str]:
        paths: List[str] = [str(ROOT)]
        if not self.real_bot:
            paths.append(str(tiny_bot_dir()))
        env = {**os.environ, **SECRETS}
        env.update(
            PYTHONPATH=os.pathsep.join(paths),
            RASA_TELEMETRY_ENABLED="false",
            TF_CPP_MIN_LOG_LEVEL="2",
            BACLOFEN_TURN_TIMEOUT_SECONDS=str(self.turn_timeout),
            BACLOFEN_ACTIONS_URL=f"http://127.0.0.1:{self.actions_port}/webhook",
            SANIC_REQUEST_MAX_SIZE="1000000",
        )
        env.setdefault("BACLOFEN_KB_URL", f"sqlite:///{ROOT}/build/knowledge.db")
        env.setdefault("BACLOFEN_SPACY_PATH", str(ROOT / "build" / "spacy" / "baclofen_nlp"))
        env.pop("BACLOFEN_MAX_MESSAGE_CHARS", None)
        return env

    def start(self) -> "RasaServer":
        model = project_model()
        self.real_bot = model is not None
        if model is None:
            model = tiny_model()
        (self.work / "credentials.yml").write_text(CREDENTIALS.format(public=PUBLIC_BASE, fake=self.fake_url))
        (self.work / "endpoints.yml").write_text(
            f"action_endpoint:\n  url: http://127.0.0.1:{self.actions_port}/webhook\n")
        self.start_actions()
        self._spawn("rasa", [RASA, "run", "-m", str(model), "--enable-api", "--port", str(self.rasa_port),
                             "--credentials", str(self.work / "credentials.yml"),
                             "--endpoints", str(self.work / "endpoints.yml")], cwd=self.work)
        self._wait("rasa", f"{self.url}/", timeout=240)
        return self

    def start_actions(self) -> None:
        module, cwd = ("actions", ROOT) if self.real_bot else ("tiny_actions", tiny_bot_dir())
        self._spawn("actions", [RASA, "run", "actions", "--actions", module, "--port", str(self.actions_port)], cwd=cwd)
        self._wait("actions", f"http://127.0.0.1:{self.actions_port}/health", timeout=120)

    def stop_actions(self) -> None:
        self._stop("actions")

    def _spawn(self, name: str, cmd: List[str], cwd: Path) -> None:
        log = open(self.work / f"{name}.log", "a")
        self.procs[name] = subprocess.Popen(cmd, cwd=cwd, env=self._env(), stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def _wait(self, name: str, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[name].poll() is not None:
                raise RuntimeError(f"{name} exited during start-up:\n{self.log(name)}")
            if http_ok(url):
                return
            time.sleep(0.3)
        raise RuntimeError(f"{name} not healthy after {timeout} s:\n{self.log(name)}")

    def log(self, name: str, lines: int = 40) -> str:
        path = self.work / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def rss_kib(self) -> int:
        """Resident memory of the Rasa server process."""
        for line in Path(f"/proc/{self.procs['rasa'].pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def _stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop(self) -> None:
        for name in list(self.procs):
            self._stop(name)
        if not os.environ.get("BACLOFEN_KEEP_TEST_LOGS"):
            shutil.rmtree(self.work, ignore_errors=True)

