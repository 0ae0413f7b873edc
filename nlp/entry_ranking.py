"""Rasa NLU component around the entry ranker (answers/ranker.py).

Trained from knowledge/content (each entry's questions and title), so a new entry is
ranked after `make build` with no other file touched. For every message it adds

- `entry_ranking`: [{"id", "score", "topic"}, …] best first (the ranker's probability of the entry);
- `entry_parts`: when the message asks two questions ("can I drink on it and will it make
  me gain weight"), [{"start", "end", "text", "ranking"}] for each, else [].

The action server reads both from the tracker's latest message and decides with the
conversation's context what to show (answers/select.py). Placed after the entity
extractor: it reads the same spaCy parse (nlp.pipeline.parse), so spelling fixes and
lexicon ids come free.
"""

# No `from __future__ import annotations`: Rasa validates these type hints.
import hashlib
import json
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from spacy.language import Language

from answers import ranker as ranking
from answers.text import Concepts, drug_classes_of, question_parts, ranker_text
from answers import text as text_module
from knowledge import schema
from nlp.pipeline import load_pipeline, parse

logger = logging.getLogger(__name__)

ENTRY_RANKING = "entry_ranking"
ENTRY_PARTS = "entry_parts"
RANKING_LIMIT = 12
VOCABULARY_FILE = "ranker_vocabulary.json"  # drug → class, and the lexicon's concepts
PART_LIMIT = 4


def knowledge_fingerprint(knowledge_dir: Optional[str] = None) -> str:
    """sha256 over everything the ranker is trained from (content files and lexicon)."""
    base = Path(knowledge_dir) if knowledge_dir else schema.KNOWLEDGE_DIR
    digest = hashlib.sha256()
    # The ranker's own code too: a change of features or solver must not be served from cache.
    code = [Path(ranking.__file__), Path(text_module.__file__), Path(__file__)]
    for path in [*schema.content_files(base), base / "lexicon.yml", *code]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()


def training_examples(knowledge: schema.Knowledge, nlp: Language):  # type: ignore[no-untyped-def]
    """(entries, examples, drug classes) for EntryRanker.train: each question, the title and
    the text of every answerable entry."""
    classes = drug_classes_of(knowledge.lexicon)
    concepts = Concepts(nlp, knowledge.lexicon.get("concepts") or {})
    entries, examples = [], []
    for item in knowledge.entries:
        if item.topic == "emergency":
            continue  # reached through the red-flag detector, never by a loose match
        index = len(entries)
        entries.append(ranking.EntryInfo(item.id, item.topic, item.subtopic, item.title or item.id))
        texts = list(item.questions) + ([item.title] if item.title else []) + [item.text]
        examples.extend((index, ranker_text(nlp(t), classes, concepts=concepts)) for t in texts)
    return entries, examples, classes, concepts


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class EntryRanker(GraphComponent):
    """Ranks knowledge entries for each message; never changes the intent."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # None: knowledge/ and $BACLOFEN_SPACY_PATH (or build/spacy/baclofen_nlp).
        return {"knowledge_dir": None, "pipeline_path": None}

    @staticmethod
    def required_packages() -> List[Text]:
        return ["spacy", "sklearn", "nltk"]

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        # Rasa caches a trained node by its config and inputs; the content is neither,
        # so without this an edited entry would keep an old ranker from .rasa/cache.
        return knowledge_fingerprint(config.get("knowledge_dir"))

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 ranker: Optional[ranking.EntryRanker] = None,
                 vocabulary: Optional[Dict[str, Any]] = None) -> None:
        self.config = config
        self._model_storage = model_storage
        self._resource = resource
        self.nlp = load_pipeline(config.get("pipeline_path"))
        self.ranker = ranker
        vocabulary = vocabulary or {}
        self.classes: Dict[str, Optional[str]] = vocabulary.get("drug_classes") or {}
        self.concepts = Concepts(self.nlp, vocabulary.get("concepts") or {})

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "EntryRanker":
        return cls({**cls.get_default_config(), **config}, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        knowledge = schema.load_knowledge(self.config.get("knowledge_dir"))
        entries, examples, self.classes, self.concepts = training_examples(knowledge, self.nlp)
        self.ranker = ranking.EntryRanker.train(entries, examples)
        vocabulary = {"drug_classes": self.classes, "concepts": knowledge.lexicon.get("concepts") or {}}
        with self._model_storage.write_to(self._resource) as directory:
            self.ranker.save(Path(directory))
            (Path(directory) / VOCABULARY_FILE).write_text(json.dumps(vocabulary, sort_keys=True), encoding="utf-8")
        return self._resource

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "EntryRanker":
        config = {**cls.get_default_config(), **config}
        with model_storage.read_from(resource) as directory:
            ranker = ranking.EntryRanker.load(Path(directory))
            vocabulary = json.loads((Path(directory) / VOCABULARY_FILE).read_text(encoding="utf-8"))
        return cls(config, model_storage, resource, ranker, vocabulary)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            ranked: List[Dict[str, Any]] = []
            parts: List[Dict[str, Any]] = []
            try:
                text = message.get(TEXT)
                if self.ranker is not None and isinstance(text, str) and text.strip():
                    ranked, parts = self._rank(text)
            except Exception:  # a ranking failure must not cost the reply: the action clarifies
                logger.exception("entry ranking failed")
            message.set(ENTRY_RANKING, ranked, add_to_output=True)
            message.set(ENTRY_PARTS, parts, add_to_output=True)
        return messages

    def _rank(self, text: str):  # type: ignore[no-untyped-def]
        assert self.ranker is not None
        doc = parse(self.nlp, text)
        topics = {e.id: e.topic for e in self.ranker.entries}
        ranked = [{**r.__dict__, "topic": topics[r.id]}
                  for r in self.ranker.rank(ranker_text(doc, self.classes, concepts=self.concepts), RANKING_LIMIT)]
        parts = []
        spans = question_parts(doc)
        if len(spans) > 1:
            for start, end in spans[:PART_LIMIT]:
                part = self.ranker.rank(ranker_text(doc, self.classes, (start, end), self.concepts), RANKING_LIMIT)
                parts.append({"start": start, "end": end, "text": text[start:end],
                              "ranking": [r.__dict__ for r in part]})
        return ranked, parts

