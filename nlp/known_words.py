"""Is a word one the intent classifier has evidence for, or one that looks like it?

The classifier's intercept is a prior: a message it has no evidence about still gets an
intent, and short replies ("y", "ok", "yep") taught it that little evidence means `affirm`.
Keyboard mashes ("asdkjh", "sdfgh") were read as "yes" with 0.6–0.8 confidence, which also
confirms whatever the bot had just asked. A word counts as known when training used it, or
when at least half of its letter trigrams occur in training words: typos ("thankyou",
"byee", "sideffects") keep most of their trigrams, mashes keep almost none.
"""

from typing import FrozenSet, Iterable

# Share of a word's trigrams that must occur in training words. On the held-out set no
# message loses all its words at 0.5 (or 0.7); 0.8 would lose "byee" and "thankyou".
MIN_KNOWN_TRIGRAM_SHARE = 0.5


def trigrams(word: str) -> FrozenSet[str]:
    """Letter trigrams of a word padded with spaces, as char_wb n-grams are."""
    padded = f" {word} "
    return frozenset(padded[i:i + 3] for i in range(len(padded) - 2))


class KnownWords:
    def __init__(self, vocabulary: Iterable[str]) -> None:
        self.words = frozenset(w.lower() for w in vocabulary)
        self._trigrams = frozenset(g for w in self.words for g in trigrams(w))

    def __bool__(self) -> bool:
        return bool(self.words)

    def recognises(self, word: str) -> bool:
        word = word.lower()
        if word in self.words:
            return True
        grams = trigrams(word)
        return sum(g in self._trigrams for g in grams) >= MIN_KNOWN_TRIGRAM_SHARE * len(grams)
