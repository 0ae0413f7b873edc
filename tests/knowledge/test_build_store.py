"""Builder and store round trip on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest
from sqlalchemy import text

from knowledge import store
from knowledge.build import build, content_hash, load
from knowledge.db import DEFAULT_URL, ENV_VAR, REPO_ROOT, database_url, writer_engine
from knowledge.schema import load_knowledge
from knowledge.store import KnowledgeBaseUnavailable

NO_INFO = "Our sources list no interaction information for {} — ask your pharmacist."


@pytest.fixture
def kb_dir(good_dir: Path, tmp_path: Path) -> Path:
    """A private, editable copy of the good fixture."""
    root = tmp_path / "knowledge"
    shutil.copytree(good_dir, root)
    return root


def replace_in(path: Path, old: str, new: str) -> None:
    content = path.read_text(encoding="utf-8")
    assert old in content
    path.write_text(content.replace(old, new), encoding="utf-8")


def test_round_trip(kb_url: str, kb_dir: Path, point_store_at: Callable[[str], None]) -> None:
    first = build(kb_url, kb_dir)
    assert first.changed and (first.entry_count, first.term_count) == (12, 43)
    point_store_at(kb_url)

    assert [e.id for e in store.entries("dosage", ["children", "maximum"])] == ["dosage-maximum"]
    assert [e.id for e in store.entries("dosage", ["children"])] == ["dosage-overview"]
    assert [e.id for e in store.entries("interactions", ())] == ["interactions-overview"]
    assert store.entries("no-such-topic", ["maximum"]) == []
    stored = store.entry("dosage-liquid")
    assert stored is not None and stored.source_title == "FDA label for Ozobax oral solution (5 mg/5 mL)"
    assert (stored.source_section, stored.reviewed.isoformat()) == ("Dosage and Administration", "2026-11-22")
    assert store.entry("missing") is None

    assert store.resolve_drug("Xanax").class_id == "benzodiazepines"
    assert store.interaction("oxycontin").entries[0].id == "interactions-opioids"
    assert [e.id for e in store.answerable()][:2] == ["dosage-overview", "dosage-maximum"]
    version = store.version()
    assert version.version == first.version[:12] and version.entry_count == 12 and version.term_count == 43

    # Same content: nothing is rewritten.
    again = build(kb_url, kb_dir)
    assert not again.changed and again.version == first.version
    assert store.version().built_at == version.built_at

    # Changed content: a new version, visible to the running store.
    replace_in(kb_dir / "content" / "other.yml", "in a container children\n    cannot open", "in a childproof container")
    changed = build(kb_url, kb_dir)
    assert changed.changed and changed.version != first.version
    assert store.version().version == changed.version[:12]
    assert store.entry("storage-tablets").text.endswith("in a childproof container.")
    # Cached lookups (answerable, entries by topic) are read at start-up: a restart, or
    # reset(), picks up the new version.
    store.reset()
    assert next(e for e in store.answerable() if e.id == "storage-tablets").text.endswith("childproof container.")

    # A removed entry disappears.
    replace_in(kb_dir / "content" / "dosage.yml", "- id: dosage-liquid", "- id: dosage-liquid-renamed")
    build(kb_url, kb_dir)
    assert store.entry("dosage-liquid") is None and store.entry("dosage-liquid-renamed") is not None
    assert store.version().entry_count == 12


def test_failed_build_rolls_back_completely(kb_url: str, kb_dir: Path, point_store_at: Callable[[str], None]) -> None:
    original = build(kb_url, kb_dir)
    engine = writer_engine(database_url(kb_url))
    try:
        # An out-of-date table layout makes the builder drop and recreate tables...
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE kb_meta ADD COLUMN obsolete INTEGER"))
        replace_in(kb_dir / "content" / "other.yml", "feeling sleepy", "feeling tired")
        changed = load_knowledge(kb_dir)

        # ...then fails before commit: old tables and old rows must survive, DDL included.
        with pytest.raises(RuntimeError, match="interrupted"):
            with engine.begin() as conn:
                load(conn, changed, content_hash(changed))
                raise RuntimeError("interrupted")
        with engine.connect() as conn:
            version = conn.execute(text("SELECT version, obsolete FROM kb_meta")).one()
        assert version == (original.version, None)
    finally:
        engine.dispose()

    # The next real build replaces the obsolete layout.
    rebuilt = build(kb_url, kb_dir)
    assert rebuilt.changed and rebuilt.version != original.version
    point_store_at(kb_url)
    assert "feeling tired" in store.entry("side-effects-overview").text


def test_store_connection_is_read_only(kb_url: str, good_dir: Path, point_store_at: Callable[[str], None]) -> None:
    build(kb_url, good_dir)
    point_store_at(kb_url)
    with pytest.raises(Exception, match="(?i)read.?only"):
        with store.get_engine().begin() as conn:
            conn.execute(text("DELETE FROM kb_terms"))
    assert store.resolve_drug("xanax") is not None


def test_drug_resolution(kb_url: str, good_dir: Path, point_store_at: Callable[[str], None]) -> None:
    build(kb_url, good_dir)
    point_store_at(kb_url)
    xanax = store.resolve_drug("  XANAX ")
    assert (xanax.drug_id, xanax.drug_name, xanax.class_id, xanax.class_name) == (
        "alprazolam", "alprazolam", "benzodiazepines", "benzodiazepines")
    assert store.resolve_drug("xanex").drug_id == "alprazolam"  # listed misspelling
    sinemet = store.resolve_drug("Sinemet")
    assert (sinemet.drug_id, sinemet.class_id) == ("levodopa_carbidopa", "levodopa")
    assert store.resolve_drug("levodopa_carbidopa").drug_name == "levodopa/carbidopa"  # a drug id
    benzos = store.resolve_drug("benzos")
    assert (benzos.drug_id, benzos.class_id, benzos.name) == (None, "benzodiazepines", "benzodiazepines")
    assert store.resolve_drug("opioids").class_id == "opioids"  # a class id
    assert store.resolve_drug("narcotics").class_id == "opioids"  # plural of a listed term
    assert store.resolve_drug("ibuprofen").class_id is None
    for unknown in ("zorblax", "baclofen", "", "   ", None, 42, "x" * 10_000):
        assert store.resolve_drug(unknown) is None  # type: ignore[arg-type]


def test_interactions_never_say_safe(kb_url: str, good_dir: Path, point_store_at: Callable[[str], None]) -> None:
    build(kb_url, good_dir)
    point_store_at(kb_url)
    known = store.interaction("Xanax")
    assert known.known and known.match.drug_id == "alprazolam"
    assert [e.id for e in known.entries] == ["interactions-benzodiazepines"]
    assert known.text == known.entries[0].text

    assert store.interaction("zorblax").text == NO_INFO.format("zorblax")
    ibuprofen = store.interaction("Advil")
    assert (ibuprofen.known, ibuprofen.text) == (False, NO_INFO.format("ibuprofen"))
    assert ibuprofen.match is not None and ibuprofen.entries == ()
    for odd in ("is it safe?", "Safe-X", "<b>x</b>", "", None, "a" * 500):
        answer = store.interaction(odd)  # type: ignore[arg-type]
        assert (answer.known, answer.text) == (False, NO_INFO.format("that medicine"))
    for term in ("zorblax", "ibuprofen", "is it safe?", "Xanax", "sinemet", "beer", "baclofen"):
        assert "safe" not in store.interaction(term).text.lower()
    assert store.interaction("lioresal").entries[0].id == "interactions-overview"


def test_store_fails_safely_without_a_database(tmp_path: Path, point_store_at: Callable[[str], None]) -> None:
    missing = tmp_path / "nowhere" / "kb.db"
    point_store_at(f"sqlite:///{missing}")
    calls = (
        lambda: store.entries("dosage"), lambda: store.entry("x"), lambda: store.resolve_drug("xanax"),
        lambda: store.interaction("xanax"), lambda: store.answerable(), store.version,
    )
    for call in calls:
        with pytest.raises(KnowledgeBaseUnavailable):
            call()
    assert not missing.exists() and not missing.parent.exists()

    empty = tmp_path / "empty.db"  # a database that was never built
    empty.touch()
    point_store_at(f"sqlite:///{empty}")
    with pytest.raises(KnowledgeBaseUnavailable):
        store.entries("dosage")

    for url in ("postgresql+psycopg2://postgres@127.0.0.1:1/kb", "not a url"):
        point_store_at(url)
        with pytest.raises(KnowledgeBaseUnavailable):
            store.resolve_drug("xanax")


# ------------------------------------------------------------------ CLI


def run_build(*args: str, url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, ENV_VAR: url}
    return subprocess.run(
        [sys.executable, "-m", "knowledge.build", *args],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def test_cli_builds_once_then_reports_up_to_date(good_dir: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new-folder' / 'kb.db'}"
    first = run_build("--knowledge-dir", str(good_dir), url=url)
    assert first.returncode == 0, first.stderr
    version = content_hash(load_knowledge(good_dir))[:12]
    assert first.stdout.strip().splitlines() == [
        f"knowledge base {version} built: 12 entries, 43 terms ({url})"]
    second = run_build("--knowledge-dir", str(good_dir), url=url)
    assert second.returncode == 0
    assert second.stdout.strip() == f"knowledge base {version} already up to date: 12 entries, 43 terms ({url})"


def test_cli_database_url_option_wins_over_env(good_dir: Path, tmp_path: Path) -> None:
    option_db, env_db = tmp_path / "option.db", tmp_path / "env.db"
    done = run_build("--knowledge-dir", str(good_dir), "--database-url", f"sqlite:///{option_db}", url=f"sqlite:///{env_db}")
    assert done.returncode == 0 and option_db.exists() and not env_db.exists()


def test_cli_prints_every_problem_and_exits_1(bad_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "kb.db"
    done = run_build("--knowledge-dir", str(bad_dir), url=f"sqlite:///{db}")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    problems = [line for line in lines if line.split(":")[0].endswith(".yml")]
    marked = sum(f.read_text().count("# error:") for f in bad_dir.rglob("*.yml"))
    assert len(problems) == marked, done.stderr
    assert lines[-1] == f"knowledge base not built: {marked} problem(s)"
    assert "Traceback" not in done.stderr and not db.exists()


def test_cli_database_error_exits_2_without_traceback(good_dir: Path) -> None:
    done = run_build("--knowledge-dir", str(good_dir), url="postgresql+psycopg2://kb:secret@127.0.0.1:1/kb")
    assert done.returncode == 2
    assert "database error" in done.stderr and "Traceback" not in done.stderr
    assert "secret" not in done.stderr


def test_default_url_is_relative_to_repo_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    assert DEFAULT_URL == "sqlite:///build/knowledge.db"
    assert database_url().database == str(REPO_ROOT / "build" / "knowledge.db")
    monkeypatch.setenv(ENV_VAR, "sqlite:////abs/kb.db")
    assert database_url().database == "/abs/kb.db"
