"""One fact, one change: a new entry with its questions, then `make build`, is answered.

In a copy of the repository, the test adds one entry (a fact the knowledge base does not
have: Ozobax is grape-flavoured) to a content file — no other file is touched — runs the
build exactly as `make build` does (knowledge base, spaCy pipeline, NLU data from the
entries' questions, validation, training), starts the copy's stack and asks one of the
entry's questions over REST. The running product, built before the change, does not know it.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import List

import pytest
import requests

from stack import ROOT, free_port, post_json

pytestmark = pytest.mark.stack

NEW_ENTRY = """
- id: forms-ozobax-flavour
  topic: forms
  subtopic: liquid_taste
  title: What Ozobax tastes like
  text: >-
    Ozobax, the baclofen oral solution, is grape-flavoured. Ask your pharmacist if the
    taste is a problem for you or your child.
  questions:
    - what does ozobax taste like
    - what flavour is ozobax
    - ozobax flavor?
    - does the liquid baclofen taste of grapes
    - my son hates the taste of his ozobax, what flavour is it meant to be
    - is ozobax grape flavoured
    - taste of ozobax
  source:
    doc: OZO
    section: 3 Dosage Forms and Strengths
  reviewed: 2026-12-01
"""
QUESTION = "what does ozobax taste like?"
MARK = "grape-flavoured"


def _tracked() -> List[str]:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [name for name in files.decode().split("\0") if name and (ROOT / name).is_file()]


def _copy_repository(target: Path) -> None:
    for name in _tracked():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target / name)
    (target / ".venv").symlink_to(ROOT / ".venv")


def _clean_env(copy: Path) -> dict:
    """The copy's own defaults: no path of the running product may leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BACLOFEN_", "RASA_CACHE"))}
    env.update(BACLOFEN_RASA_PORT=str(free_port()), BACLOFEN_ACTIONS_PORT=str(free_port()),
               BACLOFEN_WEB_PORT=str(free_port()), PYTHONPATH=str(copy))
    return env


def test_a_new_entry_is_answered_after_make_build_with_no_other_file_touched(stack, tmp_path: Path) -> None:
    before = " ".join(m.get("text", "") for m in post_json(stack.rest_url, {"sender": "fact-before", "message": QUESTION}))
    assert MARK not in before  # the product does not know the fact yet

    copy = tmp_path / "repo"
    _copy_repository(copy)
    with (copy / "knowledge" / "content" / "forms.yml").open("a", encoding="utf-8") as content:
        content.write(NEW_ENTRY)
    changed = [n for n in _tracked() if not filecmp.cmp(ROOT / n, copy / n, shallow=False)]
    assert changed == ["knowledge/content/forms.yml"], changed  # the one change
    env = _clean_env(copy)
    built = subprocess.run(["scripts/build.sh"], cwd=copy, env=env, capture_output=True, text=True, timeout=900)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]

    proc = subprocess.Popen([str(copy / ".venv" / "bin" / "python"), "scripts/stack.py", "run"], cwd=copy, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "is running" in line:
                break
        else:
            pytest.fail("the copy's stack did not start:\n" + "".join(lines[-40:]))
        url = f"http://127.0.0.1:{env['BACLOFEN_RASA_PORT']}/webhooks/rest/webhook"
        reply = requests.post(url, json={"sender": "fact-after", "message": QUESTION}, timeout=60).json()
        joined = "\n".join(m.get("text", "") for m in reply)
        assert MARK in joined and "Source:" in joined, joined
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
