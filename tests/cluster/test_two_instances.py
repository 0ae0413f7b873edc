"""Several instances, with real parts: Debian's nginx in front of two Rasa instances (each
with its own action server), one PostgreSQL conversation store and the Redis lock store,
all on loopback and started here. Proves that no turn is lost, duplicated or reordered
under 200 concurrent conversations with bursts spread across the instances, across a
`kill -9` of an instance, and across restarts of Redis and of PostgreSQL.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest
import sqlalchemy as sa

from bench.servers import Redis
from deploy.render_nginx import render
from stack import ROOT, Stack, free_port
from tests.support.postgres import PostgresServer, start_postgres

pytestmark = pytest.mark.stack

QUESTIONS = [
    "what are the side effects of baclofen?",
    "can I drink alcohol with baclofen?",
    "what if I miss a dose?",
    "how should I store baclofen tablets?",
    "is baclofen addictive?",
    "how long does baclofen take to work?",
]
# What the guards send when a turn could not be answered (channels/guard.py, actions/compose.py).
APOLOGY_MARK = "Sorry —"


@dataclass
class Cluster:
    postgres: PostgresServer
    db_url: str
    redis: Redis
    instances: List[Stack]
    nginx_port: int
    nginx: subprocess.Popen
    work: Path

    @property
    def front(self) -> str:
        return f"http://127.0.0.1:{self.nginx_port}/webhooks/rest/webhook"

    def direct(self, i: int) -> str:
        return self.instances[i].rest_url

    def stored_user_texts(self) -> Dict[str, List[str]]:
        """What PostgreSQL holds: each sender's messages in the order the store recorded them."""
        engine = sa.create_engine(self.db_url, future=True)
        try:
            with engine.connect() as conn:
                rows = conn.execute(sa.text(
                    "SELECT sender_id, type_name, data FROM conversation_events ORDER BY sender_id, seq")).all()
        finally:
            engine.dispose()
        out: Dict[str, List[str]] = {}
        self._interleaved = []
        last: Dict[str, str] = {}
        for stored_sender, kind, data in rows:
            sender = stored_sender.removeprefix("rest:")  # the store namespaces REST senders
            event = json.loads(data)
            if kind == "user":
                if last.get(sender) == "user":
                    self._interleaved.append(sender)  # two messages with no turn between
                out.setdefault(sender, []).append(event.get("text"))
            if kind in ("user", "bot"):
                last[sender] = kind
        return out

    def interleaved_senders(self) -> List[str]:
        self.stored_user_texts()
        return list(self._interleaved)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        pytest.fail("nginx is not installed (scripts/system_deps.sh installs it)")
    work = Path(tempfile.mkdtemp(prefix="baclofen-cluster-"))
    postgres = start_postgres()
    redis = Redis(work / "redis.log")
    started: List[Stack] = []
    nginx: Optional[subprocess.Popen] = None
    try:
        db_url = postgres.create_database("cluster")
        redis.start()
        env = {"BACLOFEN_REDIS_URL": f"redis://127.0.0.1:{redis.port}/1"}
        for i in range(2):
            stack = Stack(rasa_port=free_port(), actions_port=free_port(), web_port=free_port(),
                          with_web=False, tracker_url=db_url, extra_env=dict(env),
                          log_dir=work / f"instance-{i}", data_dir=work / f"data-{i}")
            stack.start()
            started.append(stack)
        port = free_port()
        conf = render([f"127.0.0.1:{s.rasa_port}" for s in started], port, ROOT / "web",
                      pid_path=work / "nginx.pid", error_log=work / "nginx-error.log",
                      access_log=work / "nginx-access.log", temp_dir=work)
        # Hundreds of people, all from 127.0.0.1 here: lift the per-client rate limit
        # (tests/deploy/test_nginx.py proves it), which would otherwise answer them 429.
        assert conf.count("rate=") == 2
        conf = re.sub(r"rate=\d+r/s", "rate=100000r/s", conf)
        (work / "nginx.conf").write_text(conf)
        nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
        nginx = subprocess.Popen([nginx_bin, "-p", str(work), "-c", str(work / "nginx.conf"),
                                  "-e", str(work / "nginx-error.log")], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.STDOUT)
        _wait_http(f"http://127.0.0.1:{port}/healthz", nginx)
        yield Cluster(postgres, db_url, redis, started, port, nginx, work)
    finally:
        if nginx is not None and nginx.poll() is None:
            nginx.terminate()
            nginx.wait(timeout=10)
        for stack in started:
            stack.stop()
        redis.stop()
        postgres.stop()
        shutil.rmtree(work, ignore_errors=True)


def _wait_http(url: str, proc: subprocess.Popen, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the server exited (code {proc.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


@dataclass
class Outcome:
    sender: str
    text: str
    status: int
    reply: str
    started: float
    ended: float


def send(url: str, sender: str, text: str, timeout: float = 60) -> Outcome:
    t0 = time.monotonic()
    body = json.dumps({"sender": sender, "message": text}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            replies = json.loads(r.read().decode())
            reply = "\n".join(x.get("text", "") for x in replies if isinstance(x, dict))
            return Outcome(sender, text, r.status, reply, t0, time.monotonic())
    except urllib.error.HTTPError as e:
        return Outcome(sender, text, e.code, e.read().decode(errors="replace")[:200], t0, time.monotonic())
    except (urllib.error.URLError, OSError) as e:
        return Outcome(sender, text, 0, str(e), t0, time.monotonic())


def answered(o: Outcome) -> bool:
    return o.status == 200 and bool(o.reply.strip()) and APOLOGY_MARK not in o.reply


def conversation(url_for_turn, sender: str, turns: int, tag: str) -> List[Outcome]:  # type: ignore[no-untyped-def]
    """One person's turns, one after the other (each waits for its reply)."""
    return [send(url_for_turn(i), sender, f"{QUESTIONS[i % len(QUESTIONS)]} ({tag} {i})") for i in range(turns)]


def run_conversations(urls: List[str], senders: List[str], turns: int, tag: str,
                      workers: int = 64) -> Dict[str, List[Outcome]]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {s: pool.submit(conversation, lambda i, k=n: urls[(k + i) % len(urls)], s, turns, tag)
                   for n, s in enumerate(senders)}
        return {s: f.result() for s, f in futures.items()}


def burst(urls: List[str], sender: str, n: int, tag: str) -> List[Outcome]:
    """n messages from one person at once, alternating between the instances."""
    with ThreadPoolExecutor(max_workers=n) as pool:
        futures = [pool.submit(send, urls[i % len(urls)], sender, f"{QUESTIONS[i % len(QUESTIONS)]} ({tag} {i})")
                   for i in range(n)]
        return [f.result() for f in futures]


def assert_record(cluster: Cluster, sent: Dict[str, List[Outcome]], ordered: bool) -> None:
    """Every answered message is stored exactly once (in the order sent, for people who
    waited for each reply), and no two turns of a conversation interleave."""
    stored = cluster.stored_user_texts()
    for sender, outcomes in sent.items():
        got = stored.get(sender, [])
        want = [o.text for o in outcomes if answered(o)]
        if ordered:
            # A turn that failed in flight may or may not have been stored; the rest keep order.
            kept = [t for t in got if t in want]
            assert kept == want, f"{sender}: stored {got}, answered {want}"
        else:
            assert sorted(t for t in got if t in want) == sorted(want), f"{sender}: stored {got}"
        assert len(got) == len(set(got)), f"{sender}: a message stored twice: {got}"
    bad = set(cluster.interleaved_senders()) & set(sent)
    assert not bad, f"turns interleaved in {sorted(bad)[:5]}"


def test_200_concurrent_conversations_with_bursts_across_instances(cluster: Cluster) -> None:
    senders = [f"person-{i}" for i in range(200)]
    bursters = [f"burst-{i}" for i in range(20)]
    direct = [cluster.direct(0), cluster.direct(1)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        people = pool.submit(run_conversations, [cluster.front, *direct], senders, 3, "c")
        bursts = pool.submit(lambda: {b: burst(direct, b, 5, "b") for b in bursters})
        sent, burst_sent = people.result(), bursts.result()
    outcomes = [o for os_ in sent.values() for o in os_] + [o for os_ in burst_sent.values() for o in os_]
    failed = [o for o in outcomes if not answered(o)]
    assert not failed, f"{len(failed)} of {len(outcomes)} turns not answered, e.g. {failed[:3]}"
    assert_record(cluster, sent, ordered=True)
    assert_record(cluster, burst_sent, ordered=False)


def test_kill_9_of_one_instance_keeps_every_conversation(cluster: Cluster) -> None:
    victim, survivor = cluster.instances
    # A conversation begun on the instance that will die…
    assert "room temperature" in send(victim.rest_url, "carer", "how should I store baclofen tablets?").reply
    senders = [f"kill-{i}" for i in range(60)]
    killed_at: List[float] = []

    def kill_soon() -> None:
        time.sleep(2.0)
        rasa = next(p for p in victim.parts if p.name == "Rasa server")
        killed_at.append(time.monotonic())
        os.killpg(rasa.proc.pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_soon)
    killer.start()
    sent = run_conversations([cluster.front], senders, 8, "k", workers=60)
    killer.join()
    outcomes = [o for os_ in sent.values() for o in os_]
    failed = [o for o in outcomes if not answered(o)]
    # Only turns in flight at the kill may fail: at most one per person, all begun before it.
    assert len(failed) <= len(senders), failed[:3]
    assert all(o.started <= killed_at[0] + 0.5 for o in failed), [o for o in failed if o.started > killed_at[0] + 0.5][:3]
    assert sum(answered(o) for o in outcomes) >= len(outcomes) - len(senders)
    assert_record(cluster, sent, ordered=True)
    # …continues on the survivor with its context: the follow-up asks the storage question
    # again, for the liquid (kept in the fridge, 2 to 8 °C).
    follow_up = send(cluster.front, "carer", "and the liquid?")
    assert "2 to 8" in follow_up.reply, follow_up
    # The dead instance comes back (as its supervisor would restart it) for the next tests.
    victim.stop()
    victim.start()


def _outage(cluster: Cluster, stop, start, tag: str) -> None:  # type: ignore[no-untyped-def]
    senders = [f"{tag}-{i}" for i in range(40)]

    def outage() -> None:
        time.sleep(1.0)
        stop()
        time.sleep(1.5)
        start()

    breaker = threading.Thread(target=outage)
    breaker.start()
    sent = run_conversations([cluster.front, cluster.direct(0), cluster.direct(1)], senders, 6, tag, workers=40)
    breaker.join()
    outcomes = [o for os_ in sent.values() for o in os_]
    failed = [o for o in outcomes if not answered(o)]
    assert not failed, f"{len(failed)} of {len(outcomes)} turns not answered, e.g. {failed[:3]}"
    assert_record(cluster, sent, ordered=True)


def test_a_redis_restart_loses_no_turn(cluster: Cluster) -> None:
    _outage(cluster, cluster.redis.stop, cluster.redis.start, "redis")


def test_a_postgresql_restart_loses_no_turn(cluster: Cluster) -> None:
    _outage(cluster, cluster.postgres.halt, cluster.postgres.start, "pg")


def test_the_widget_protocol_through_nginx_sticks_to_one_instance(cluster: Cluster) -> None:
    """socket.io's long-polling sends each request of a session separately: nginx must keep
    them on one instance (ip_hash), or the session breaks."""
    from tests.conversations.runner import SocketIOSession

    with SocketIOSession(f"http://127.0.0.1:{cluster.nginx_port}", "widget-through-nginx") as session:
        first = " ".join(m.get("text", "") for m in session.send("how should I store baclofen tablets?"))
        second = " ".join(m.get("text", "") for m in session.send("and the liquid?"))
    assert "room temperature" in first, first
    assert "2 to 8" in second, second
