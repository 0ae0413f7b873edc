"""The servers the benchmark measures, trains and evaluates.

Our bot runs through scripts/stack.py (the same launcher as `make run` and the tests);
BenchStack only lets a variant swap the endpoints file or add `rasa run` options.
The stock assistant is a fresh `rasa init` project, served by StockStack: as created
(responses only) in memory; in the durable set-up, the issue's baseline, the same project
with its replies made custom actions served by `rasa run actions` (stock_with_actions).
Durable (below) is the production set-up both are measured in as well: one throwaway
PostgreSQL server (tests/support/postgres.py) and one loopback Redis, shared by both,
each assistant in its own database.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from scripts.stack import ROOT, VENV_BIN, Part, Stack, StackError, free_port

RASA = str(VENV_BIN / "rasa")

# Which stock assistant each section compares with (`stock_variant` in the JSON).
STOCK_VARIANT_MEMORY = "rasa init as created (responses only, no action server), in-memory tracker and lock store"
STOCK_VARIANT_DURABLE = "rasa init + custom actions (rasa run actions), PostgreSQL tracker, Redis lock"
# What durable results from before the custom-action baseline compared with (--stock-from).
STOCK_VARIANT_DURABLE_RESPONSES = "rasa init as created (responses only, no action server), PostgreSQL tracker, Redis lock"
STOCK_ACTION_SERVER = "stock action server"


@dataclass
class BenchStack(Stack):
    """Our stack, optionally with another endpoints file and extra `rasa run` options."""

    endpoints: Optional[Path] = None
    rasa_args: List[str] = field(default_factory=list)
    redis: Optional["Redis"] = None
    # Other server processes whose CPU and memory count for this stack (name -> pid):
    # the PostgreSQL and Redis of the durable set-up.
    servers: Dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Our Rasa runs its HTTP API only with a token (scripts/stack.py); the load driver
        # (bench/load.py, this process) sends it on /model/parse.
        if self.enable_api:
            os.environ.setdefault("BACLOFEN_API_TOKEN", secrets.token_hex(16))

    def _parts(self) -> List[Part]:
        parts = super()._parts()
        for part in parts:
            if part.name == "Rasa server":
                if self.endpoints is not None:
                    i = part.cmd.index("--endpoints")
                    part.cmd[i + 1] = str(self.endpoints)
                part.cmd.extend(self.rasa_args)
        return parts

    def env(self) -> Dict[str, str]:
        return self._env()


@dataclass
class StockStack(Stack):
    """The stock `rasa init` assistant: one Rasa server answering from responses (no action server).
    Without an endpoints file it keeps Rasa's defaults (in-memory tracker and lock store).
    With `project` (stock_with_actions' project) it also runs that project's custom actions
    with `rasa run actions` (in the project's folder, so `actions` is its package, not ours);
    its endpoints must then name the action server (stock_endpoints_yaml's actions_url)."""

    credentials: Path = Path("credentials.yml")
    endpoints: Optional[Path] = None
    servers: Dict[str, int] = field(default_factory=dict)
    project: Optional[Path] = None

    @property
    def actions_url(self) -> str:
        return f"http://127.0.0.1:{self.actions_port}/webhook"

    def _parts(self) -> List[Part]:
        parts = []
        if self.project is not None:
            # In the stock project's folder, with only it on the path: `actions` is its
            # package, not ours.
            parts.append(Part(STOCK_ACTION_SERVER, self.actions_port,
                              [RASA, "run", "actions", "--port", str(self.actions_port), "--actions", "actions"],
                              f"http://127.0.0.1:{self.actions_port}/health", "BENCH_STOCK_ACTIONS_PORT",
                              self.log_dir / f"stock-actions-{self.actions_port}.log",
                              cwd=self.project, env={"PYTHONPATH": str(self.project)}))
        cmd = [RASA, "run", "-m", str(self.model), "--port", str(self.rasa_port),
               "--credentials", str(self.credentials), "--enable-api"]
        if self.endpoints is not None:
            cmd += ["--endpoints", str(self.endpoints)]
        parts.append(Part("stock Rasa server", self.rasa_port, cmd, f"{self.rasa_url}/",
                          "BENCH_STOCK_PORT", self.log_dir / f"stock-rasa-{self.rasa_port}.log"))
        return parts


class Redis:
    """A throwaway loopback redis-server (no persistence) for the multi-worker variant."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.proc: Optional[subprocess.Popen] = None

    def start(self, timeout: float = 10.0) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise StackError("redis-server is not installed (apt-get install redis-server)")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "w") as out:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen([exe, "--port", str(self.port), "--bind", "127.0.0.1",
                                          "--save", "", "--appendonly", "no"],
                                         stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._pong():
                return
            time.sleep(0.1)
        self.stop()
        raise StackError(f"redis-server did not answer on port {self.port}; see {self.log}")

    def _pong(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


class Durable:
    """The production set-up's servers: a throwaway PostgreSQL (fsync off, as in the tests:
    the bench measures our code, not the disk) and a loopback Redis, shared by our stack
    and stock Rasa, each with its own database."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.postgres = None  # tests.support.postgres.PostgresServer
        self.redis: Optional[Redis] = None

    def start(self) -> None:
        try:
            from tests.support.postgres import start_postgres  # imports pytest: only when used
        except ImportError as e:
            raise StackError(f"the durable part needs the test extras (pip install -e '.[test]'): {e}; "
                             "or run with --no-durable") from e
        try:
            self.postgres = start_postgres()
            self.redis = Redis(self.log_dir / "durable-redis.log")
            self.redis.start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.redis is not None:
            self.redis.stop()
        if self.postgres is not None:
            self.postgres.stop()

    def postgres_pid(self) -> int:
        """The postmaster (its backends are its children)."""
        assert self.postgres is not None
        return int((self.postgres.data_dir / "postmaster.pid").read_text().split()[0])

    def pids(self) -> Dict[str, int]:
        assert self.redis is not None and self.redis.proc is not None
        return {"postgres": self.postgres_pid(), "redis": self.redis.proc.pid}

    def ours_env(self, tracker_url: str) -> Dict[str, str]:
        """What our product reads (README "Configuration"): the tracker URL and Redis lock."""
        assert self.redis is not None
        return {"BACLOFEN_TRACKER_URL": tracker_url,
                "BACLOFEN_REDIS_URL": f"redis://127.0.0.1:{self.redis.port}/1"}

    def stock_endpoints(self, path: Path, database: str, actions_url: Optional[str] = None) -> Path:
        """Stock Rasa's own SQL tracker store and Redis lock store, as its docs configure them
        (and its action server, when it has one)."""
        assert self.postgres is not None and self.redis is not None
        path.write_text(stock_endpoints_yaml(self.postgres.port, database, self.redis.port, actions_url))
        return path


def stock_endpoints_yaml(pg_port: int, database: str, redis_port: int, actions_url: Optional[str] = None) -> str:
    actions = f"action_endpoint:\n  url: \"{actions_url}\"\n" if actions_url else ""
    return actions + (
        "tracker_store:\n"
        "  type: sql\n"
        "  dialect: postgresql\n"
        "  url: 127.0.0.1\n"
        f"  port: {pg_port}\n"
        f"  db: {database}\n"
        "  username: postgres\n"
        "lock_store:\n"
        "  type: redis\n"
        "  url: 127.0.0.1\n"
        f"  port: {redis_port}\n"
        "  db: 2\n"
    )


def database_name(url: str) -> str:
    """The database of a SQLAlchemy URL (create_database names a fresh one)."""
    return url.rsplit("/", 1)[1].split("?", 1)[0]


def run_logged(cmd: List[str], cwd: Path, env: Dict[str, str], log: Path, timeout: float) -> float:
    """Run a command to completion with its output in log; return seconds; raise on failure."""
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with open(log, "w") as out:
        done = subprocess.run(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                              timeout=timeout, check=False)
    seconds = time.monotonic() - t0
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise RuntimeError(f"{' '.join(cmd[:3])} failed (code {done.returncode}); log {log}:\n{tail}")
    return seconds


def train_ours(config: Path, out_dir: Path, env: Dict[str, str], log: Path) -> Tuple[float, Path]:
    """A full (`--force`, empty cache) training of our bot; returns (seconds, model path)."""
    env = dict(env, RASA_CACHE_DIRECTORY=str(out_dir / "cache"), PYTHONHASHSEED="0")
    cmd = [RASA, "train", "--config", str(config), "--domain", "bot/domain.yml", "--data", "data",
           "--out", str(out_dir), "--fixed-model-name", "baclofen", "--force"]
    seconds = run_logged(cmd, ROOT, env, log, timeout=900)
    return seconds, out_dir / "baclofen.tar.gz"


def init_stock(project: Path, env: Dict[str, str], log: Path) -> Tuple[float, Path]:
    """`rasa init --no-prompt` (creates the project and trains it); returns (seconds, model)."""
    project.mkdir(parents=True, exist_ok=True)
    env = dict(env, RASA_CACHE_DIRECTORY=str(project / ".cache"))
    cmd = [RASA, "init", "--no-prompt", "--init-dir", str(project)]
    seconds = run_logged(cmd, project, env, log, timeout=900)
    models = sorted((project / "models").glob("*.tar.gz"))
    if not models:
        raise RuntimeError(f"rasa init trained no model in {project / 'models'}")
    return seconds, models[-1]


def stock_action_name(response: str) -> str:
    """The custom action that replaces a stock response: utter_greet -> action_greet_back,
    utter_X -> action_X."""
    if not response.startswith("utter_"):
        raise ValueError(f"not a response name: {response}")
    rest = response[len("utter_"):]
    return "action_greet_back" if rest == "greet" else f"action_{rest}"


_STOCK_ACTION = '''

class {cls}(Action):
    """Sends what {response} says."""

    def name(self) -> Text:
        return "{name}"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        dispatcher.utter_message({kwargs})
        return []
'''


def stock_actions_code(responses: Dict[str, list]) -> str:
    """actions/actions.py for the stock project: one minimal custom action per response,
    dispatching the response's (first) text, and its image when it has one."""
    out = ["# The bench's stock baseline with custom actions (bench/servers.py stock_with_actions):",
           "# each stock response becomes a custom action that dispatches the same text.",
           "from typing import Any, Dict, List, Text", "",
           "from rasa_sdk import Action, Tracker",
           "from rasa_sdk.executor import CollectingDispatcher"]
    for response, variations in responses.items():
        first = variations[0]
        kwargs = ", ".join(f"{k}={first[k]!r}" for k in ("text", "image") if k in first)
        name = stock_action_name(response)
        cls = "".join(part.title() for part in name.split("_"))
        out.append(_STOCK_ACTION.format(cls=cls, name=name, response=response, kwargs=kwargs).rstrip("\n"))
    return "\n".join(out) + "\n"


_ACTION_STEP = re.compile(r"^([ \t]*-[ \t]*action:[ \t]*)(utter_\w+)[ \t]*$", re.MULTILINE)


def stock_with_actions(init_project: Path, project: Path) -> List[str]:
    """A copy of the `rasa init` project (domain, config, credentials, data) in `project`
    whose replies are custom actions: every `action: utter_X` step of its rules and stories
    becomes the custom action stock_action_name(utter_X), written into actions/actions.py
    (the same text) and listed under the domain's `actions`. Returns the actions' names."""
    import yaml

    project.mkdir(parents=True, exist_ok=True)
    for name in ("config.yml", "credentials.yml", "domain.yml"):
        shutil.copy(init_project / name, project / name)
    shutil.copytree(init_project / "data", project / "data", dirs_exist_ok=True)
    domain_text = (project / "domain.yml").read_text()
    domain = yaml.safe_load(domain_text)
    if "actions" in domain:
        raise RuntimeError(f"the stock domain already lists actions: {domain['actions']}")
    responses = domain["responses"]
    for path in sorted((project / "data").glob("*.yml")):
        text = path.read_text()

        def replace(m: "re.Match[str]") -> str:
            if m.group(2) not in responses:
                raise RuntimeError(f"{path.name}: {m.group(2)} is not a stock response")
            return m.group(1) + stock_action_name(m.group(2))
        new = _ACTION_STEP.sub(replace, text)
        if re.search(r"\butter_\w+", new):
            raise RuntimeError(f"{path.name} still names a response after the rewrite")
        path.write_text(new)
    names = [stock_action_name(r) for r in responses]
    (project / "domain.yml").write_text(domain_text.rstrip("\n") + "\n\nactions:\n"
                                        + "".join(f"  - {n}\n" for n in names))
    (project / "actions").mkdir(exist_ok=True)
    (project / "actions" / "__init__.py").write_text("")
    (project / "actions" / "actions.py").write_text(stock_actions_code(responses))
    return names


def train_stock_with_actions(init_project: Path, project: Path, env: Dict[str, str],
                             log: Path) -> Tuple[float, Path]:
    """stock_with_actions, then `rasa train` it once (the whole graph: ~1 minute, as long
    as `rasa init`'s own training); returns (seconds, model)."""
    stock_with_actions(init_project, project)
    env = dict(env, RASA_CACHE_DIRECTORY=str(project / ".cache"))
    cmd = [RASA, "train", "--config", "config.yml", "--domain", "domain.yml", "--data", "data",
           "--out", str(project / "models"), "--fixed-model-name", "stock-actions"]
    seconds = run_logged(cmd, project, env, log, timeout=900)
    return seconds, project / "models" / "stock-actions.tar.gz"


def nlu_macro_f1(model: Path, heldout: Path, out_dir: Path, env: Dict[str, str], log: Path) -> float:
    """Intent macro-F1 of a model on the held-out NLU test set."""
    cmd = [RASA, "test", "nlu", "--nlu", str(heldout), "-m", str(model), "--out", str(out_dir)]
    run_logged(cmd, ROOT, env, log, timeout=600)
    report = json.loads((out_dir / "intent_report.json").read_text())
    return round(float(report["macro avg"]["f1-score"]), 4)
