# Copyright 2026 The CL-DMDF contributors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""The fitted vocabulary of a bag-of-words text modality: word n-grams with sub-linear TF-IDF weights.

What `CLDMDFProcessor` fits on the training split for a text modality whose spec says
`{"type": "text", "encoder": "bag_of_words", ...}`, and what turns a text into the `(ids, weights)` bag that
`CLDMDFBagOfWordsEncoder` (`text_encoder_cldmdf.py`) sums. It computes what scikit-learn's

    TfidfVectorizer(lowercase=True, token_pattern=r"(?u)\\b\\w\\w+\\b", ngram_range=(1, 2), min_df=2,
                    max_features=V, sublinear_tf=True, norm="l2", smooth_idf=True)

computes (the tests compare both), written out here so that remote code needs no package beyond numpy:
- tokens: the lower-cased text's runs of 2 or more word characters; terms: its word 1- to n-grams (joined by a space);
- the vocabulary: terms in at least `min_df` training documents, at most `max_features` of them, those with the
  largest total count in the training documents (ties: alphabetical order), indexed in alphabetical order;
- the weight of term t in a text: `(1 + ln tf) * idf(t)`, `idf(t) = ln((1 + n) / (1 + df(t))) + 1` with n the number
  of training documents, then the row scaled to unit L2 norm. A text none of whose terms is known has no term at all
  (an empty bag), which is not a missing text: see `CLDMDFBagOfWordsEncoder`.

This file travels to the Hub as remote code with the processor: it imports only numpy and the standard library.
"""

import functools
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Optional

import numpy as np

__all__ = [
    "BAG_OF_WORDS",
    "CLDMDFVocabulary",
    "CLDMDFVocabularyBuilder",
    "TOKEN_PATTERN",
    "analyze",
    "check_vocabularies",
    "is_bag_of_words",
]

# The `encoder` of a text modality spec read as a bag of words.
BAG_OF_WORDS = "bag_of_words"

# scikit-learn's default `token_pattern`: words of two or more alphanumeric characters.
TOKEN_PATTERN = r"(?u)\b\w\w+\b"
_TOKEN_RE = re.compile(TOKEN_PATTERN)
# How many distinct texts a vocabulary keeps the bags of: a training run re-reads the same texts every epoch.
CACHE_SIZE = 1 << 17


def is_bag_of_words(spec: Mapping[str, Any]) -> bool:
    """Whether a modality spec is a bag-of-words text modality (rather than one with a transformers backbone)."""
    return spec.get("type") == "text" and spec.get("encoder") == BAG_OF_WORDS


def analyze(text: str, ngram_range: Sequence[int] = (1, 2)) -> list[str]:
    """The terms of `text` in order: its lower-cased tokens (`TOKEN_PATTERN`), then its word n-grams for each n of
    `ngram_range` (scikit-learn's `_word_ngrams`: the 1-grams first, then the 2-grams, ...)."""
    tokens = _TOKEN_RE.findall(text.lower())
    low, high = ngram_range
    terms = list(tokens) if low == 1 else []
    for n in range(max(low, 2), min(high, len(tokens)) + 1):
        terms.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return terms


def _check_options(ngram_range: Any, min_df: Any, max_features: Any) -> tuple[tuple[int, int], int, Optional[int]]:
    def positive_int(value: Any) -> bool:
        return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1

    if (
        not isinstance(ngram_range, (list, tuple))
        or len(ngram_range) != 2
        or not all(positive_int(n) for n in ngram_range)
        or ngram_range[0] > ngram_range[1]
    ):
        raise ValueError(f"`ngram_range` must be two ints 1 <= low <= high, like (1, 2), got {ngram_range!r}")
    if not positive_int(min_df):
        raise ValueError(f"`min_df` must be a positive int (documents a term must occur in), got {min_df!r}")
    if max_features is not None and not positive_int(max_features):
        raise ValueError(f"`max_features` must be a positive int or None, got {max_features!r}")
    return (int(ngram_range[0]), int(ngram_range[1])), int(min_df), None if max_features is None else int(max_features)


class CLDMDFVocabularyBuilder:
    """Counts the terms of training documents, batch by batch; `build()` returns the fitted [`CLDMDFVocabulary`].

    Args:
        ngram_range (`tuple[int, int]`, *optional*, defaults to `(1, 2)`): the word n-grams that are terms.
        min_df (`int`, *optional*, defaults to 2): documents a term must occur in to be kept.
        max_features (`int`, *optional*): at most this many terms, those of largest total count.
    """

    def __init__(self, ngram_range: Sequence[int] = (1, 2), min_df: int = 2, max_features: Optional[int] = None):
        self.ngram_range, self.min_df, self.max_features = _check_options(ngram_range, min_df, max_features)
        self.num_documents = 0
        self.document_frequency: Counter = Counter()
        self.term_count: Counter = Counter()

    def update(self, texts: Iterable[str]) -> "CLDMDFVocabularyBuilder":
        """Adds documents (strings; a missing text is no document and must be left out by the caller)."""
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"A bag-of-words vocabulary is fitted on strings, got {type(text).__name__}")
            counts = Counter(analyze(text, self.ngram_range))
            self.term_count.update(counts)
            self.document_frequency.update(counts.keys())
            self.num_documents += 1
        return self

    def build(self) -> "CLDMDFVocabulary":
        """The vocabulary of the documents seen (scikit-learn's `_limit_features`, ties broken alphabetically)."""
        if self.num_documents == 0:
            raise ValueError("A bag-of-words vocabulary needs at least one training document; none was given")
        candidates = sorted(term for term, df in self.document_frequency.items() if df >= self.min_df)
        if self.max_features is not None and len(candidates) > self.max_features:
            counts = np.array([self.term_count[term] for term in candidates], dtype=np.int64)
            keep = np.sort(np.argsort(-counts, kind="stable")[: self.max_features])  # alphabetical among the kept
            candidates = [candidates[i] for i in keep]
        if not candidates:
            raise ValueError(
                f"No term occurs in at least min_df={self.min_df} of the {self.num_documents} training documents: "
                f"the bag-of-words vocabulary would be empty; lower `min_df` or give more training text"
            )
        df = np.array([self.document_frequency[term] for term in candidates], dtype=np.float64)
        idf = np.log((1.0 + self.num_documents) / (1.0 + df)) + 1.0
        return CLDMDFVocabulary(
            candidates,
            idf.tolist(),
            ngram_range=self.ngram_range,
            min_df=self.min_df,
            max_features=self.max_features,
            num_documents=self.num_documents,
        )


class CLDMDFVocabulary:
    """A fitted bag-of-words vocabulary: terms (alphabetical, index = embedding row) and their idf.

    Args:
        terms (`Sequence[str]`): the terms, distinct, in alphabetical order.
        idf (`Sequence[float]`): `idf[i]` of `terms[i]`, finite and >= 1.
        ngram_range, min_df, max_features: the options it was fitted with (see [`CLDMDFVocabularyBuilder`]).
        num_documents (`int`): the training documents it was fitted on.
    """

    def __init__(
        self,
        terms: Sequence[str],
        idf: Sequence[float],
        ngram_range: Sequence[int] = (1, 2),
        min_df: int = 2,
        max_features: Optional[int] = None,
        num_documents: int = 0,
    ):
        self.ngram_range, self.min_df, self.max_features = _check_options(ngram_range, min_df, max_features)
        self.terms = list(terms)
        self.idf = np.asarray(idf, dtype=np.float64)
        if not self.terms or not all(isinstance(term, str) for term in self.terms):
            raise ValueError("`terms` must be a non-empty list of strings")
        if self.idf.shape != (len(self.terms),) or not (np.isfinite(self.idf).all() and (self.idf >= 1.0).all()):
            raise ValueError(
                f"`idf` must hold one finite value >= 1 per term ({len(self.terms)}), got shape {self.idf.shape}"
            )
        self.index = {term: i for i, term in enumerate(self.terms)}
        if len(self.index) != len(self.terms):
            raise ValueError("`terms` must be distinct")
        self.num_documents = int(num_documents)
        # Per instance, so that the cache goes with the vocabulary it was computed from.
        self._bag = functools.lru_cache(maxsize=CACHE_SIZE)(self._compute_bag)

    def __len__(self) -> int:
        return len(self.terms)

    def _compute_bag(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        counts = Counter(self.index[term] for term in analyze(text, self.ngram_range) if term in self.index)
        ids = np.array(sorted(counts), dtype=np.int64)  # (T,)
        tf = np.array([counts[i] for i in ids.tolist()], dtype=np.float64)
        weights = (1.0 + np.log(tf)) * self.idf[ids]
        norm = math.sqrt(float(weights @ weights))
        if norm > 0:
            weights = weights / norm
        return ids, weights

    def bag(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The term ids `(T,)` int64 of `text` (ascending) and their weights `(T,)` float64 (unit L2 norm; `T = 0`
        when no term of the text is known). The arrays are shared with a cache: copy before changing them."""
        if not isinstance(text, str):
            raise TypeError(f"A bag-of-words text must be a string, got {type(text).__name__}")
        return self._bag(text)

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The bags of `texts`, padded to the longest (at least 1 wide): ids `(N, L)` int64 and weights `(N, L)`
        float32, padding id 0 with weight 0 (which adds nothing to a weighted sum)."""
        bags = [self.bag(text) for text in texts]
        width = max([1, *(ids.size for ids, _ in bags)])
        ids_out = np.zeros((len(bags), width), dtype=np.int64)
        weights_out = np.zeros((len(bags), width), dtype=np.float32)
        for row, (ids, weights) in enumerate(bags):
            ids_out[row, : ids.size] = ids
            weights_out[row, : ids.size] = weights
        return ids_out, weights_out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state (idf as Python floats: exact doubles, so it reloads bit-identical)."""
        return {
            "ngram_range": list(self.ngram_range),
            "min_df": self.min_df,
            "max_features": self.max_features,
            "num_documents": self.num_documents,
            "lowercase": True,
            "token_pattern": TOKEN_PATTERN,
            "sublinear_tf": True,
            "norm": "l2",
            "terms": list(self.terms),
            "idf": self.idf.tolist(),
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> "CLDMDFVocabulary":
        """Reads `to_dict`'s output; a vocabulary of other tokenisation settings is an error, not a silent change."""
        if not isinstance(state, Mapping) or not {"terms", "idf"} <= set(state):
            raise ValueError(f"A saved bag-of-words vocabulary is a dict with 'terms' and 'idf', got {type(state)}")
        fixed = {"lowercase": True, "token_pattern": TOKEN_PATTERN, "sublinear_tf": True, "norm": "l2"}
        different = {key: state[key] for key, value in fixed.items() if key in state and state[key] != value}
        if different:
            raise ValueError(f"This vocabulary was saved with {different}; this code computes only {fixed}")
        return cls(
            state["terms"],
            state["idf"],
            ngram_range=tuple(state.get("ngram_range", (1, 2))),
            min_df=state.get("min_df", 2),
            max_features=state.get("max_features"),
            num_documents=state.get("num_documents", 0),
        )


def check_vocabularies(
    vocabularies: Optional[Mapping[str, Any]], modalities: Mapping[str, Mapping[str, Any]]
) -> dict[str, CLDMDFVocabulary]:
    """Reads saved vocabularies (`CLDMDFVocabulary.to_dict()` or instances) of the bag-of-words text modalities
    among `modalities` (name -> spec), each checked to fit its spec's `vocab_size`."""
    bag_of_words_names = [name for name, spec in modalities.items() if is_bag_of_words(spec)]
    checked = {}
    for name, state in (vocabularies or {}).items():
        if name not in bag_of_words_names:
            raise ValueError(
                f"`text_vocabularies` has an entry for {name!r}, which is not a bag-of-words text modality; those "
                f"are {bag_of_words_names}"
            )
        vocabulary = state if isinstance(state, CLDMDFVocabulary) else CLDMDFVocabulary.from_dict(state)
        if len(vocabulary) > modalities[name]["vocab_size"]:
            raise ValueError(
                f"`text_vocabularies[{name!r}]` has {len(vocabulary)} terms, more than the "
                f"{modalities[name]['vocab_size']} embedding rows of its spec (`vocab_size`)"
            )
        checked[name] = vocabulary
    return checked
