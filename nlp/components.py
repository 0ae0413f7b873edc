"""Custom Rasa 3.6 NLU components.

- LexiconEntityExtractor: drug / form / population / aspect entities from the
  spaCy pipeline built by `python -m nlp.build_pipeline` (values are lexicon ids).
- RedFlagDetector: runs safety.red_flags on every message and, when it fires,
  forces the intent to `emergency` and adds `red_flag` entities. Put it last.

Both load the same saved pipeline once (config `pipeline_path`, default
$BACLOFEN_SPACY_PATH or build/spacy/baclofen_nlp). Loading fails loudly: a bot
must not start without its red-flag detector. Processing never raises.
"""

# No `from __future__ import annotations`: Rasa validates these type hints.
import logging
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import ENTITY_ATTRIBUTE_CONFIDENCE_TYPE
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    EXTRACTOR,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from spacy.language import Language
import numpy as np
import scipy.sparse
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.sparse_featurizer.sparse_featurizer import SparseFeaturizer

from knowledge.topics import FORMS, POPULATIONS

import nlp.rasa_patches  # noqa: F401  (loaded with our model: measured Rasa performance fixes)
from nlp import lexicon_matcher as lm
from nlp.pipeline import fingerprint, load_pipeline, parse
from safety import red_flags, triage_net

logger = logging.getLogger(__name__)

EMERGENCY_INTENT = "emergency"
FALLBACK_THRESHOLD = 0.5  # as FallbackClassifier in bot/config.yml
RED_FLAG_ENTITY = "red_flag"
# Entity-ruler label → Rasa entity type. BACLOFEN is left out on purpose:
# baclofen itself is never an interacting "drug".
LABEL_TO_ENTITY = {lm.DRUG: "drug", lm.FORM: "form", lm.POPULATION: "population", lm.ASPECT: "aspect"}


def _load(config: Dict[Text, Any]) -> Language:
    return load_pipeline(config.get("pipeline_path"))


def lexicon_entities(nlp: Language, text: str, extractor: str) -> List[Dict[Text, Any]]:
    """Rasa entity dicts for the lexicon terms in `text`, first mention of each value."""
    entities: List[Dict[Text, Any]] = []
    seen = set()
    for ent in parse(nlp, text).ents:
        entity_type = LABEL_TO_ENTITY.get(ent.label_)
        value = ent.ent_id_
        if not entity_type or not value or (entity_type, value) in seen:
            continue
        seen.add((entity_type, value))
        entities.append({
            ENTITY_ATTRIBUTE_TYPE: entity_type,
            ENTITY_ATTRIBUTE_VALUE: value,
            ENTITY_ATTRIBUTE_START: ent.start_char,
            ENTITY_ATTRIBUTE_END: ent.end_char,
            ENTITY_ATTRIBUTE_CONFIDENCE_TYPE: 1.0,
            EXTRACTOR: extractor,
        })
    return entities


class LexiconComponent(GraphComponent):
    """What every component over the saved spaCy pipeline shares: its one config key,
    loading the pipeline once, and passing training data through untouched."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"pipeline_path": None}  # None: $BACLOFEN_SPACY_PATH or build/spacy/baclofen_nlp

    @staticmethod
    def required_packages() -> List[Text]:
        return ["spacy"]

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        return fingerprint(config.get("pipeline_path"))

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "LexiconComponent":
        return cls({**cls.get_default_config(), **config})

    def __init__(self, config: Dict[Text, Any], nlp: Optional[Language] = None) -> None:
        self.config = config
        self.nlp = nlp or _load(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data  # annotated examples keep their own intents and entities


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class LexiconEntityExtractor(LexiconComponent, EntityExtractorMixin):
    """Entities `drug`, `form`, `population`, `aspect` from knowledge/lexicon.yml."""

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not isinstance(text, str) or not text.strip():
                continue
            try:
                found = lexicon_entities(self.nlp, text, self.name)
            except Exception:
                logger.exception("lexicon entity extraction failed")
                continue
            message.set(ENTITIES, message.get(ENTITIES, []) + found, add_to_output=True)
        return messages


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class RedFlagDetector(LexiconComponent):
    """Forces intent `emergency` (confidence 1.0) when a red flag is found."""

    def __init__(self, config: Dict[Text, Any], nlp: Optional[Language] = None) -> None:
        super().__init__(config, nlp)
        self.detector = red_flags.detector_for(self.nlp)
        # Loaded with the model, not on the first message (None when it was not built).
        self.net = triage_net.default_net(triage_net.net_dir())

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            try:
                self._process_one(message)
            except Exception:
                logger.exception("red-flag component failed on a message")
        return messages

    def _net_kind(self, text: str, entities: List[Dict[Text, Any]]) -> Optional[str]:
        try:
            kind = self.net.kind(text) if self.net is not None else None
        except Exception:  # the rules have decided; a failing net must not cost the reply
            logger.exception("triage net failed on a message")
            return None
        named = {(e.get(ENTITY_ATTRIBUTE_TYPE), e.get(ENTITY_ATTRIBUTE_VALUE)) for e in entities}
        needs = triage_net.NEEDS.get(kind or "")
        return None if needs and needs not in named else kind

    @staticmethod
    def _demote_unconfirmed_emergency(message: Message) -> None:  # noqa: D401
        """The rules decide what is an emergency: a classifier-only `emergency`
        ("can I quit baclofen?") would be a false alarm, so the next intent answers."""
        if (message.get(INTENT) or {}).get(INTENT_NAME_KEY) != EMERGENCY_INTENT:
            return
        ranking = [r for r in message.get(INTENT_RANKING_KEY) or []
                   if r.get(INTENT_NAME_KEY) != EMERGENCY_INTENT]
        if not ranking:
            return
        top = ranking[0]
        if (top.get(PREDICTED_CONFIDENCE_KEY) or 0.0) < FALLBACK_THRESHOLD:
            top = {INTENT_NAME_KEY: "nlu_fallback", PREDICTED_CONFIDENCE_KEY: FALLBACK_THRESHOLD}
        message.set(INTENT, top, add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)

    def _process_one(self, message: Message) -> None:
        text = message.get(TEXT) or ""
        flags = self.detector.detect(text)
        if not flags:
            # The rules found nothing: the learned safety net may still see an emergency
            # the rules do not yet cover (safety/triage_net.py). It only ever adds advice.
            kind = self._net_kind(text, message.get(ENTITIES) or [])
            if kind is None:
                self._demote_unconfirmed_emergency(message)
                return
            flags = [red_flags.RedFlag(kind, text, 0, len(text))]
            extractor = triage_net.EXTRACTOR
        else:
            extractor = self.__class__.__name__
        emergency = {INTENT_NAME_KEY: EMERGENCY_INTENT, PREDICTED_CONFIDENCE_KEY: 1.0}
        previous = message.get(INTENT) or {}
        ranking = [r for r in message.get(INTENT_RANKING_KEY) or []
                   if r.get(INTENT_NAME_KEY) != EMERGENCY_INTENT]
        if previous.get(INTENT_NAME_KEY) and previous.get(INTENT_NAME_KEY) != EMERGENCY_INTENT:
            # The classifier's own top intent stays visible, second.
            ranking = [previous] + [r for r in ranking
                                    if r.get(INTENT_NAME_KEY) != previous.get(INTENT_NAME_KEY)]
        message.set(INTENT, emergency, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [emergency] + ranking, add_to_output=True)
        message.set(ENTITIES, message.get(ENTITIES, []) + [
            {
                ENTITY_ATTRIBUTE_TYPE: RED_FLAG_ENTITY,
                ENTITY_ATTRIBUTE_VALUE: flag.kind,
                ENTITY_ATTRIBUTE_START: flag.start,
                ENTITY_ATTRIBUTE_END: flag.end,
                ENTITY_ATTRIBUTE_CONFIDENCE_TYPE: 1.0,
                EXTRACTOR: extractor,
            }
            for flag in flags
        ], add_to_output=True)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class LexiconFeaturizer(SparseFeaturizer, GraphComponent):
    """Tells the intent classifier WHAT KIND of word the lexicon found, not which one.

    Character n-grams learn the drug names seen in training; this feature lets the
    classifier generalise to any drug in the lexicon ("dose of lisinopril" is out of
    scope like "dose of ibuprofen"; "ativan and baclofen" is an interaction question).
    Features: one column per label (baclofen, drug, form, population, aspect) and one
    per aspect/form/population id, for each token a lexicon entity covers.
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**SparseFeaturizer.get_default_config(), "pipeline_path": None}

    @staticmethod
    def required_packages() -> List[Text]:
        return ["spacy"]

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        """Nothing to validate: the vocabulary comes from the saved spaCy pipeline."""

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        # The feature width follows the lexicon: a cached classifier of the old width
        # must not be reused ("X has 13103 features, but … is expecting 13102").
        return fingerprint(config.get("pipeline_path"))

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "LexiconFeaturizer":
        return cls({**cls.get_default_config(), **config}, execution_context.node_name)

    def __init__(self, config: Dict[Text, Any], name: Text = "LexiconFeaturizer",
                 nlp: Optional[Language] = None) -> None:
        SparseFeaturizer.__init__(self, name, config)
        self.nlp = nlp or _load(config)
        self.columns = {c: i for i, c in enumerate(_feature_vocabulary(self.nlp))}

    def _columns_for(self, label: str, value: str) -> List[int]:
        keys = [label, f"{label}:{value}"]
        return [self.columns[k] for k in keys if k in self.columns]

    def _featurize(self, message: Message, find_entities: bool = True) -> None:
        tokens = message.get(TOKENS_NAMES[TEXT]) or []
        text = message.get(TEXT)
        if not tokens or not isinstance(text, str):
            return
        cells = set()  # (token index, column) pairs that are 1
        for ent in parse(self.nlp, text).ents if find_entities else ():
            for i, token in enumerate(tokens):
                if token.start < ent.end_char and token.end > ent.start_char:
                    cells.update((i, col) for col in self._columns_for(ent.label_, ent.ent_id_))
        width = len(self.columns)
        rows, cols = zip(*sorted(cells)) if cells else ((), ())
        sequence = scipy.sparse.coo_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)),
                                           shape=(len(tokens), width))
        present = sorted(set(cols))  # the sentence row: which columns any token has
        sentence = scipy.sparse.coo_matrix(
            (np.ones(len(present), dtype=np.float32), ([0] * len(present), present)), shape=(1, width))
        self.add_features_to_message(sequence, sentence, TEXT, message)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            self._featurize(example)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            try:
                self._featurize(message)
            except Exception:
                # Never raise inside the pipeline: the classifier needs a full-width
                # feature vector, so it gets an empty lexicon block and decides on the
                # count vectors alone.
                logger.exception("lexicon featurisation failed")
                self._featurize(message, find_entities=False)
        return messages


def _feature_vocabulary(nlp: Language) -> List[str]:
    """Stable columns: labels, then every aspect id of the lexicon and every population
    and form id (sorted). The aspects come from the saved pipeline's entity ruler."""
    labels = [lm.BACLOFEN, lm.DRUG, lm.FORM, lm.POPULATION, lm.ASPECT]
    ruler = nlp.get_pipe("entity_ruler") if "entity_ruler" in getattr(nlp, "pipe_names", ()) else None
    aspects = sorted({p["id"] for p in (ruler.patterns if ruler else []) if p.get("label") == lm.ASPECT})
    return (labels + [f"{lm.ASPECT}:{a}" for a in aspects]
            + [f"{lm.POPULATION}:{p}" for p in POPULATIONS] + [f"{lm.FORM}:{f}" for f in FORMS])


# Knowledge intents whose question is about baclofen itself; asked about another
# drug alone ("normal dose of lisinopril", "taper off klonopin") they are out of scope.
BACLOFEN_ONLY_INTENTS = frozenset({
    "ask_about", "ask_uses", "ask_forms", "ask_dosage", "ask_how_to_take", "ask_missed_dose",
    "ask_stopping", "ask_side_effects", "ask_warnings", "ask_driving", "ask_pregnancy",
    "ask_overdose", "ask_storage",
})
OUT_OF_SCOPE_INTENT = "out_of_scope"
SMALL_TALK_INTENTS = frozenset({"greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "capabilities"})
FALLBACK_INTENT = "nlu_fallback"
FOLLOW_UP_INTENT = "follow_up"
INTERACTIONS_INTENT = "ask_interactions"
# An unsure out_of_scope or fallback becomes a knowledge question when the entry ranker
# is sure (measured on the consumer dev set: no out-of-scope item was rescued).
RESCUE_MAX_CONFIDENCE = 0.9
RESCUE_MIN_RANKING = 0.6
# Lexicon ids of drinks and recreational substances: asked about "on it", never another
# medicine's own question.
NOT_MEDICINES = frozenset({"alcohol", "caffeine", "cannabis"})
# Topics where a named medicine's own question could be meant ("how much tizanidine…").
DRUG_TOPICS = frozenset({"interactions", "dosage", "how_to_take", "missed_dose", "stopping"})
ENTRY_RANKING = "entry_ranking"  # nlp/entry_ranking.py, which runs before these rules
# A pronoun may stand for baclofen ("can I take it with xanax") — then it is not another drug's question.
_PRONOUNS = frozenset({"it", "its", "it's", "this", "that", "them"})


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class IntentRules(LexiconComponent):
    """Deterministic corrections of the classifier from what the lexicon found.

    1. Scope: a baclofen-only intent for a message that names another drug but neither
       baclofen nor a pronoun for it is `out_of_scope` ("normal dose of lisinopril").
    2. Interactions: `out_of_scope` for a message naming baclofen AND another drug is
       `ask_interactions` ("how much ibuprofen can I take with baclofen?").
    3. Rescue: `nlu_fallback` (or `out_of_scope` for a message about baclofen, "it", or a
       form such as "my pump") with a lexicon aspect is `follow_up`, which the action
       answers with the entries the ranker finds ("how often is it refilled?" → pump
       refills, a bare "dose?" → the usual dose); and an unsure message naming another
       drug is a follow-up about taking it with baclofen.
    4. Rescue by the entry ranker: an unsure `out_of_scope` or `nlu_fallback` naming no other
       drug, whose best-ranked entry is clearly first, is that entry's topic's question.
    Place after the classifier, FallbackClassifier and EntryRanker, before RedFlagDetector.
    """

    def corrected_intent(self, intent: Optional[str], text: str, confidence: float = 1.0,
                         best_entry: Optional[Dict[str, Any]] = None) -> Optional[str]:
        """The intent the rules give this message, or None to keep the classifier's.

        `best_entry` is the entry ranker's first entry ({"id", "score", "topic"}), if any."""
        doc = parse(self.nlp, text)
        labels = {ent.label_ for ent in doc.ents}
        names_baclofen = lm.BACLOFEN in labels
        # "my pump", "the tablets", "it": the question is about the person's baclofen.
        refers_to_baclofen = names_baclofen or lm.FORM in labels or any(
            t.lower_ in _PRONOUNS and not (t.lower_ == "its" and t.i + 1 < len(doc) and doc[t.i + 1].lower_ == "own")
            for t in doc)  # "gabapentin on its own" is about gabapentin
        other_drug = lm.DRUG in labels
        if intent in SMALL_TALK_INTENTS and red_flags.detector_for(self.nlp).signs(text):
            # "now I have a fever" read as goodbye: a warning sign is never small talk. As an
            # unsure message it reaches the action server, which also reads it together
            # with the message before.
            return FALLBACK_INTENT
        if intent in BACLOFEN_ONLY_INTENTS and other_drug and not refers_to_baclofen:
            return OUT_OF_SCOPE_INTENT
        if intent == OUT_OF_SCOPE_INTENT and other_drug and names_baclofen:
            return INTERACTIONS_INTENT
        if intent == OUT_OF_SCOPE_INTENT and other_drug and refers_to_baclofen:
            drugs = {str(e.ent_id_ or e.text).lower() for e in doc.ents if e.label_ == lm.DRUG}
            if drugs and drugs <= NOT_MEDICINES:
                return INTERACTIONS_INTENT  # "can I have a glass of wine on it?"
            if (best_entry and best_entry.get("score", 0) >= RESCUE_MIN_RANKING
                    and best_entry.get("topic") not in DRUG_TOPICS):
                return f"ask_{best_entry['topic']}"  # "is it like valium?" → what baclofen is
            # "tizanidine 4mg, how many times a day can I take it": the other medicine's own
            # question stays out of scope.
        specific = any(e.label_ == lm.ASPECT for e in doc.ents)
        if specific and not other_drug and (intent == FALLBACK_INTENT
                                            or (intent == OUT_OF_SCOPE_INTENT and refers_to_baclofen)):
            return FOLLOW_UP_INTENT
        if intent == FALLBACK_INTENT and other_drug:
            if not refers_to_baclofen and best_entry and f"ask_{best_entry.get('topic')}" in BACLOFEN_ONLY_INTENTS:
                return OUT_OF_SCOPE_INTENT  # "what side effects does gabapentin have on its own?"
            # "and what if I also have a glass of wine?": answered as a follow-up about that
            # drug with baclofen — what our sources say, never another drug's dosing.
            return FOLLOW_UP_INTENT
        if (intent in (FALLBACK_INTENT, OUT_OF_SCOPE_INTENT) and not other_drug and best_entry
                and confidence < RESCUE_MAX_CONFIDENCE and best_entry.get("score", 0) >= RESCUE_MIN_RANKING
                and best_entry.get("topic")):
            # "is it addictive?" read as out of scope at 0.51, while one entry's questions
            # match it at 0.99: the entry ranker knows this is a baclofen question.
            return f"ask_{best_entry['topic']}"
        return None

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            try:
                intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
                confidence = float((message.get(INTENT) or {}).get(PREDICTED_CONFIDENCE_KEY) or 0.0)
                ranked = message.get(ENTRY_RANKING) or []
                text = message.get(TEXT)
                corrected = self.corrected_intent(intent, text, confidence, ranked[0] if ranked else None) \
                    if isinstance(text, str) else None
                if corrected:
                    chosen = {INTENT_NAME_KEY: corrected, PREDICTED_CONFIDENCE_KEY: 1.0}
                    ranking = [r for r in message.get(INTENT_RANKING_KEY) or []
                               if r.get(INTENT_NAME_KEY) != corrected]
                    message.set(INTENT, chosen, add_to_output=True)
                    message.set(INTENT_RANKING_KEY, [chosen] + ranking, add_to_output=True)
            except Exception:
                logger.exception("intent rules failed on a message")
        return messages
