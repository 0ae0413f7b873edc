"""The presence-feature intent classifier: trains, saves without pickle, loads identically."""

from pathlib import Path
from typing import Callable, List, NamedTuple, Tuple

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlp.intent_classifier import WEIGHTS_FILE, PresenceIntentClassifier

EXAMPLES = {
    "ask_dosage": ["what is the dose of baclofen", "how much baclofen per day", "baclofen max dose",
                   "how many mg of baclofen can I take"],
    "ask_side_effects": ["baclofen side effects", "does baclofen make you sleepy",
                         "what are the side effects", "can baclofen cause dizziness"],
    "greet": ["hello", "hi there", "good morning", "hey"],
}


def featurizers(storage: LocalModelStorage) -> Tuple[WhitespaceTokenizer, CountVectorsFeaturizer]:
    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    context = ExecutionContext(GraphSchema({}), "test")
    counts = CountVectorsFeaturizer.create(
        {**CountVectorsFeaturizer.get_default_config(), "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 3},
        storage, Resource("counts"), context)
    return tokenizer, counts


class Trained(NamedTuple):
    clf: PresenceIntentClassifier
    storage: LocalModelStorage
    resource: Resource
    prepare: Callable[[List[str]], List[Message]]  # texts → tokenized, featurized messages


@pytest.fixture()
def trained(tmp_path: Path) -> Trained:
    storage = LocalModelStorage(tmp_path)
    tokenizer, counts = featurizers(storage)
    data = TrainingData([Message(data={"text": t, "intent": i}) for i, ts in EXAMPLES.items() for t in ts])
    tokenizer.process_training_data(data)
    counts.train(data)
    counts.process_training_data(data)
    resource = Resource("classifier")
    context = ExecutionContext(GraphSchema({}), "classifier")
    clf = PresenceIntentClassifier.create({**PresenceIntentClassifier.get_default_config(), "C": 3},
                                          storage, resource, context)
    clf.train(data)

    def prepare(texts: List[str]) -> List[Message]:
        msgs = [Message(data={"text": t}) for t in texts]
        tokenizer.process(msgs)
        counts.process(msgs)
        return msgs

    return Trained(clf, storage, resource, prepare)


def load_saved(trained: Trained) -> PresenceIntentClassifier:
    """The classifier as the server loads it from the model storage."""
    return PresenceIntentClassifier.load(PresenceIntentClassifier.get_default_config(), trained.storage,
                                         trained.resource, ExecutionContext(GraphSchema({}), "classifier"))


def ranking(msg: Message) -> List[Tuple[str, float]]:
    return [(r["name"], round(r["confidence"], 6)) for r in msg.get("intent_ranking")]


def test_classifies_unseen_phrasings(trained: Trained) -> None:
    dose, side, hi = trained.clf.process(trained.prepare(["whats the baclofen dose per day", "baclofen makes me sleepy", "hello!"]))
    assert dose.get("intent")["name"] == "ask_dosage"
    assert side.get("intent")["name"] == "ask_side_effects"
    assert hi.get("intent")["name"] == "greet"


def test_features_are_presence_not_counts(trained: Trained) -> None:
    X = trained.clf._create_X(trained.prepare(["baclofen baclofen baclofen dose"]))
    assert X.nnz > 0 and set(X.data.tolist()) == {1.0}


def test_saved_weights_load_without_pickle_and_predict_the_same(trained: Trained) -> None:
    clf, storage, resource, prepare = trained
    with storage.read_from(resource) as model_dir:
        files = sorted(p.name for p in model_dir.iterdir())
    assert files == [WEIGHTS_FILE]
    loaded = load_saved(trained)
    texts = ["max dose of baclofen", "is dizziness a side effect", "hey there"]
    assert [ranking(m) for m in loaded.process(prepare(texts))] == [ranking(m) for m in clf.process(prepare(texts))]


def no_intent(msg: Message) -> bool:
    """What FallbackClassifier turns into nlu_fallback whatever its threshold."""
    return msg.get("intent") == {"name": None, "confidence": 0.0} and msg.get("intent_ranking") == []


def test_a_message_without_features_gets_no_intent_instead_of_failing(trained: Trained) -> None:
    (msg,) = trained.clf.process([Message(data={"text": "?"})])
    assert no_intent(msg)


@pytest.mark.parametrize("text", ["asdkjh", "qwerty zxcvb", "kjsdfh sdjkfh"])
def test_a_keyboard_mash_gets_no_intent_not_the_prior(trained: Trained, text: str) -> None:
    for clf in (trained.clf, load_saved(trained)):  # the vocabulary is saved with the weights
        (msg,) = clf.process(trained.prepare([text]))
        assert no_intent(msg)


def test_one_known_or_nearly_known_word_is_enough_evidence(trained: Trained) -> None:
    for msg in trained.clf.process(trained.prepare(["helo", "asdkjh baclofen", "sideefects"])):
        assert msg.get("intent")["name"] in EXAMPLES
        assert len(msg.get("intent_ranking")) == len(EXAMPLES)


def test_a_lexicon_entity_is_evidence(trained: Trained) -> None:
    """The lexicon matches drug and brand names that training never used ("Lioresal")."""
    (msg,) = trained.prepare(["qzxv"])
    msg.set("entities", [{"entity": "drug", "value": "lioresal", "start": 0, "end": 4}])
    (msg,) = trained.clf.process([msg])
    assert msg.get("intent")["name"] in EXAMPLES


def test_weights_are_laid_out_for_the_per_message_product(trained: Trained) -> None:
    """scipy copies a non-contiguous dense operand on every sparse × dense product."""
    loaded = load_saved(trained)
    for model in (trained.clf, loaded):
        assert model.clf.coef_.T.flags["C_CONTIGUOUS"]
    texts = ["max dose of baclofen", "hey there"]
    row_major = load_saved(trained)
    row_major.clf.coef_ = np.ascontiguousarray(row_major.clf.coef_)
    assert [ranking(m) for m in loaded.process(trained.prepare(texts))] == \
        [ranking(m) for m in row_major.process(trained.prepare(texts))]
