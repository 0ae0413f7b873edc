"""Intent classifier: scikit-learn logistic regression on which n-grams are PRESENT.

Rasa's LogisticRegressionClassifier fits on raw counts. With character n-grams that
includes the padding space, counted twice per word, so sentence length became a
strong feature: long questions drifted towards out_of_scope or ask_stopping ("how do
I cope with baclofen side effects?"). Presence (0/1) features remove that, and the
held-out set and 5-fold cross-validation chose C=3 (scripts/nlu_gate.py, make nlu-report).
It also answers in a fraction of DIET's time per message and loads no TensorFlow model
(make bench). Training and the intent ranking are Rasa's component.

The fitted weights are saved as plain arrays (numpy .npz, no pickle) instead of Rasa's
skops file: importing skops scans every loaded module and added ~13 s to the server's
start-up (py-spy); the arrays load in milliseconds and execute no code.

A message with no word the classifier knows (nlp/known_words.py) and no lexicon entity gets
no intent, so FallbackClassifier asks the user to rephrase: the intercept alone would call
a keyboard mash "yes".
"""

import logging
from typing import Any, Dict, List, Text

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import (
    ENTITIES,
    FEATURE_TYPE_SENTENCE,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlp.known_words import KnownWords

logger = logging.getLogger(__name__)
WEIGHTS_FILE = "logistic_regression.npz"


def _column_major(coef: np.ndarray) -> np.ndarray:
    """Weights laid out so that coef_.T, which scikit-learn multiplies by, is C-contiguous.

    scipy's sparse × dense product ravels its dense operand; a transposed row-major matrix
    is copied whole (26 × 13k floats) for every message: 14 % of the server's CPU (py-spy).
    """
    return np.asfortranarray(coef)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class PresenceIntentClassifier(LogisticRegressionClassifier):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**LogisticRegressionClassifier.get_default_config(), "C": 1.0}

    def __init__(self, config: Dict[Text, Any], name: Text, model_storage: ModelStorage,
                 resource: Resource) -> None:
        super().__init__(config, name, model_storage, resource)
        self.clf.set_params(C=float(self.config["C"]))
        self.known_words = KnownWords([])

    def _has_evidence(self, message: Message) -> bool:
        if not self.known_words:  # nothing to judge by (no intent data)
            return True
        tokens = message.get(TOKENS_NAMES[TEXT]) or []
        return bool(message.get(ENTITIES)) or any(self.known_words.recognises(t.text) for t in tokens)

    def process(self, messages: List[Message]) -> List[Message]:
        messages = super().process(messages)
        for message in messages:
            if not self._has_evidence(message):
                # What Rasa's classifiers report when they cannot classify: no intent.
                message.set(INTENT, {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0}, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [], add_to_output=True)
        return messages

    def _create_X(self, messages: List[Message]) -> scipy.sparse.csr_matrix:
        """One row per message: its sparse sentence features in pipeline order, as 0/1.

        (The pipeline has no dense featurizer.) A message without features — nothing
        should produce one — gets an empty row, so it falls back instead of failing.
        The same blocks as Rasa's Message.get_sparse_features, stacked as CSR directly:
        its COO combination took about twice the time per message (py-spy).
        """
        width = getattr(self.clf, "n_features_in_", 0)
        rows = []
        for message in messages:
            blocks = [scipy.sparse.csr_matrix(f.features) for f in message.features
                      if f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE and f.is_sparse()]
            rows.append(scipy.sparse.hstack(blocks, format="csr") if blocks
                        else scipy.sparse.csr_matrix((1, width)))
        X = scipy.sparse.vstack(rows, format="csr")
        X.eliminate_zeros()
        X.data[:] = 1.0
        return X

    def train(self, training_data: TrainingData) -> Resource:
        self.known_words = KnownWords(t.text for m in training_data.intent_examples
                                      for t in m.get(TOKENS_NAMES[TEXT]) or [])
        resource = super().train(training_data)
        if hasattr(self.clf, "coef_"):  # not fitted when there was no intent data
            self.clf.coef_ = _column_major(self.clf.coef_)
        return resource

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as model_dir:
            np.savez(model_dir / WEIGHTS_FILE, coef=self.clf.coef_, intercept=self.clf.intercept_,
                     classes=np.asarray(self.clf.classes_, dtype=str),
                     known_words=np.asarray(sorted(self.known_words.words), dtype=str))

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "PresenceIntentClassifier":
        component = cls(config, execution_context.node_name, model_storage, resource)
        try:
            with model_storage.read_from(resource) as model_dir:
                with np.load(model_dir / WEIGHTS_FILE, allow_pickle=False) as saved:
                    clf = component.clf
                    clf.classes_ = saved["classes"]
                    clf.coef_ = _column_major(saved["coef"])
                    clf.intercept_ = saved["intercept"]
                    clf.n_features_in_ = clf.coef_.shape[1]
                    component.known_words = KnownWords(saved["known_words"].tolist())
        except (ValueError, OSError, KeyError):
            # As Rasa's own classifier: a model trained without intent data has no weights.
            logger.debug("no trained weights for %s in the model", resource.name)
        return component
