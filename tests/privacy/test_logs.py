"""Log records are redacted in any process that installs privacy.logs: the Rasa server (the
conversation store installs it) and the action server (actions/privacy.py). Each case runs
in a fresh interpreter, as those servers do, and reads the log file it wrote."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_logging(tmp_path: Path, body: str) -> str:
    log = tmp_path / "out.log"
    code = textwrap.dedent(f"""
        import logging, sys
        sys.path.insert(0, {str(ROOT)!r})
        logging.basicConfig(filename={str(log)!r}, level=logging.DEBUG, format="%(name)s %(message)s")
    """) + textwrap.dedent(body)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return log.read_text()


def test_log_lines_and_tracebacks_are_redacted(tmp_path: Path) -> None:
    log = run_logging(tmp_path, """
        from privacy import logs
        logs.install(); logs.install()  # twice: still one redaction
        logging.getLogger("rasa.core.processor").debug("Received user message '%s'", "call me on 07700 900123")
        logging.getLogger("ours").info("from %s: %d mg", "tom@example.com", 10)
        try:
            raise ValueError("could not parse 'my name is Sarah Jones'")
        except ValueError:
            logging.getLogger("ours").exception("parse failed")
    """)
    assert "07700 900123" not in log and "tom@example.com" not in log and "Sarah Jones" not in log
    assert "Received user message 'call me on <PHONE>'" in log
    assert "from <EMAIL>: 10 mg" in log
    assert "ValueError: could not parse 'my name is <NAME>'" in log


def test_the_action_server_redacts_its_logs_once_it_loads_our_actions(tmp_path: Path) -> None:
    log = run_logging(tmp_path, """
        import actions.privacy  # what rasa_sdk does when it loads the actions package
        logging.getLogger("rasa_sdk.executor").debug("tracker text: %s", "ring +44 7700 900789")
    """)
    assert "7700 900789" not in log and "tracker text: ring <PHONE>" in log


def test_a_bad_format_string_is_left_for_logging_to_report(tmp_path: Path) -> None:
    log = run_logging(tmp_path, """
        from privacy import logs
        logs.install()
        logging.getLogger("ours").info("%d items", "not a number")
        logging.getLogger("ours").info("still logging")
    """)
    assert "still logging" in log
