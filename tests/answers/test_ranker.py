"""The entry ranker and the words it sees (answers/ranker.py, answers/text.py)."""

from __future__ import annotations

from pathlib import Path

from answers.ranker import EntryInfo, EntryRanker
from answers.text import Concepts, question_parts, ranker_text
from nlp.pipeline import load_pipeline

NLP = load_pipeline()  # the built pipeline (make build), with the real lexicon
CLASSES = {"alprazolam": "benzodiazepines", "ibuprofen": None}


def text(message: str, concepts=None):
    return ranker_text(NLP(message), CLASSES, concepts=concepts)


def test_a_lexicon_drug_is_its_class_and_baclofens_own_names_are_dropped():
    words = text("can I take Xanax with baclofen").words
    assert "§class:benzodiazepines" in words and "§drug:alprazolam" in words
    assert not any(w.startswith("baclof") for w in words)
    assert "with" in words  # kept: "with a narcotic" is not "is it a narcotic"
    assert "§class:none" in text("ibuprofen?").words  # a drug our sources have nothing on


def test_concepts_make_different_words_meet():
    concepts = Concepts(NLP, {"drowsiness": ["zombie", "nodded off", "sleepy"]})
    assert "§concept:drowsiness" in text("I nodded off at my desk", concepts).words
    assert "§concept:drowsiness" in text("feel like a zombie", concepts).words
    assert "§concept:drowsiness" not in text("what is the dose", concepts).words


def test_a_message_is_split_only_where_it_asks_a_second_question():
    def parts(message):
        doc = NLP(message)
        return [message[a:b] for a, b in question_parts(doc)]
    assert parts("can I drink on it and will it make me gain weight") == [
        "can I drink on it", "will it make me gain weight"]
    assert parts("how does baclofen work and is it a narcotic") == ["how does baclofen work", "is it a narcotic"]
    story = "I've wet the bed twice since starting it. could the tablets do that?"
    assert parts(story) == [story]  # the story belongs to its question
    assert parts("is it safe? for kids I mean") == ["is it safe? for kids I mean"]


def _ranker() -> EntryRanker:
    entries = [EntryInfo("heat", "pump", "heat", "Heat and saunas"),
               EntryInfo("refill", "pump", "refill", "Refills"),
               EntryInfo("alcohol", "interactions", "alcohol", "Alcohol")]
    questions = {0: ["can I use a sauna with my pump", "hot tub with the pump", "is heat bad for the pump"],
                 1: ["how often is the pump refilled", "when is my refill due", "pump refill"],
                 2: ["can I drink beer on baclofen", "is wine ok with baclofen", "alcohol and baclofen"]}
    return EntryRanker.train(entries, [(i, text(q)) for i, qs in questions.items() for q in qs])


def test_the_ranker_learns_which_words_name_an_entry_and_round_trips(tmp_path: Path):
    ranker = _ranker()
    best = ranker.rank(text("is a jacuzzi or sauna ok with an itb pump?"))
    assert best[0].id == "heat" and abs(sum(ranker.probabilities(text("sauna"))) - 1) < 1e-9
    assert ranker.rank(text("when do I need a top up of my pump, refill?"))[0].id == "refill"
    ranker.save(tmp_path)
    again = EntryRanker.load(tmp_path)
    message = text("beer with it?")
    assert [r.id for r in again.rank(message)] == [r.id for r in ranker.rank(message)]
    assert again.rank(text("")) == []


def test_the_ranker_fingerprint_covers_its_own_code(tmp_path: Path, monkeypatch):
    """Rasa's cache must not serve a ranker trained by older feature or solver code."""
    from answers import ranker as ranking_module
    from nlp import entry_ranking

    before = entry_ranking.knowledge_fingerprint()
    changed = tmp_path / "ranker.py"
    changed.write_text(Path(ranking_module.__file__).read_text() + "\n# CHAR_WEIGHT changed\n")
    monkeypatch.setattr(ranking_module, "__file__", str(changed))
    assert entry_ranking.knowledge_fingerprint() != before
