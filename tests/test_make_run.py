"""`make run`'s launcher (scripts/stack.py run) stops every server however it is stopped.

The servers run in their own sessions, so a launcher that died on SIGTERM or ignored
SIGINT (as background jobs do) would leave them running and holding their ports.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from stack import ROOT, free_port, port_free


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
    assert "Rasa server (" in done.stderr and "features" in done.stderr, done.stderr[-3000:]
    assert all(port_free(p) for p in ports.values())
