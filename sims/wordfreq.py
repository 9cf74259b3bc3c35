r"""Real domains: word-frequency distributions of natural languages (experiment E10).

The data are the frequency tables shipped inside the ``wordfreq`` wheel; nothing
is downloaded. For languages ℓ_1..ℓ_K the finite set X is the union over k of
the top-N words of ℓ_k that are strings of length ≤ ``max_len`` over a fixed
alphabet A, and

.. math:: D_k(x) = \frac{f_k(x)}{\sum_{y \in X} f_k(y)},\qquad x \in X,

with f_k(x) = ``wordfreq.word_frequency(x, ℓ_k)``: D_k(x) = f_k(x)/Σ_{y∈X} f_k(y)
is the frequency of word x in language k, renormalized on X. A word of X that
language k never uses has D_k(x) = 0, so the domains have overlapping but
different supports (the setup allows zeros; see the theory page §3 of the
documentation). The word lists and frequencies are those of Speer [1]_.

The default alphabet is the 26 ASCII letters ``a``–``z``, shared by the eight
languages en, de, fr, es, it, nl, pt, sv. Words containing any other character —
accented letters (``é``, ``ä``, ``ß``, ``å``), apostrophes, digits — are dropped,
so e.g. German ``für`` and Swedish ``är`` are not in X. Pass an ``alphabet``
including those letters to keep them.

References
----------
.. [1] R. Speer, "rspeer/wordfreq: v3.0", Zenodo, 2022, doi:10.5281/zenodo.7199437.

Examples
--------
>>> from sims.wordfreq import wordfreq_domains
>>> d = wordfreq_domains(["en", "fr"], top_n=20, max_len=3)
>>> d.D.shape, d.strings[:4]
((2, 32), ['a', 'and', 'are', 'as'])
>>> d.D[:, d.strings.index("the")].round(3)  # "the" is English
array([0.207, 0.001])
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass

import numpy as np

from theory.validation import check_int, check_strings

__all__ = ["Domains", "wordfreq_domains"]


@dataclass(frozen=True)
class Domains:
    """K domains on a finite set of strings: ``D[k, i]`` is the probability of
    ``strings[i]`` in ``languages[k]``.

    Returned by :func:`wordfreq_domains`.

    Attributes
    ----------
    strings : list of str, length n
        The points of X, sorted.
    D : ndarray, shape (K, n)
        The domains (read-only): row k is D_k.
    languages : tuple of str, length K
        The language codes, in the order of the rows.
    alphabet : str
        The letters the words were restricted to.
    top_n : int
        How many of the most frequent words of each language were considered.
    max_len : int
        The longest word length kept.
    """

    strings: list[str]
    D: np.ndarray
    languages: tuple[str, ...]
    alphabet: str
    top_n: int
    max_len: int


def _check_languages(languages) -> tuple[str, ...]:
    import wordfreq

    langs = tuple(check_strings(languages, "languages"))
    if len(set(langs)) != len(langs):
        raise ValueError(f"languages: each language must appear once, got {list(langs)}")
    available = wordfreq.available_languages()
    missing = [lang for lang in langs if lang not in available]
    if missing:
        raise ValueError(
            f"languages: no wordfreq data for {missing}; available: {sorted(available)}"
        )
    return langs


def _check_alphabet(alphabet) -> str:
    if not isinstance(alphabet, str) or not alphabet:
        raise ValueError(f"alphabet: expected a non-empty string of letters, got {alphabet!r}")
    if len(set(alphabet)) != len(alphabet):
        raise ValueError(f"alphabet: letters must be distinct, got {alphabet!r}")
    # wordfreq lower-cases and tokenizes its input, so only lowercase letters
    # map one string to exactly one word of its tables.
    bad = [c for c in alphabet if not (c.isalpha() and c == c.lower())]
    if bad:
        raise ValueError(f"alphabet: expected lowercase letters only, got {bad!r}")
    return alphabet


def wordfreq_domains(languages, top_n: int, max_len: int, alphabet: str | None = None) -> Domains:
    r"""Word-frequency domains of ``languages`` on the union of their top-``top_n`` words.

    X = ⋃_k {x ∈ top_n_list(ℓ_k, N) : x ∈ A^{≤ max_len}}, sorted; D_k(x) ∝
    word_frequency(x, ℓ_k) on X (zeros allowed). ``alphabet`` A defaults to the
    ASCII lowercase letters; words with other characters are dropped (see the
    module docstring).

    .. math:: D_k(x) = \frac{f_k(x)}{\sum_{y\in X} f_k(y)}.

    Parameters
    ----------
    languages : list of str
        Language codes of the ``wordfreq`` package, e.g. ``["en", "fr"]``; each once.
    top_n : int
        How many of the most frequent words of each language to consider, ≥ 1.
    max_len : int
        The longest word kept, ≥ 1.
    alphabet : str, optional
        Distinct lowercase letters (default ``a``–``z``).

    Returns
    -------
    Domains
        The strings X, the (K, n) table D and the settings.

    Raises
    ------
    ValueError
        For unknown or repeated languages, non-positive sizes, an alphabet that
        is not made of distinct lowercase letters, or a language with no kept
        word. A bare string for ``languages`` raises
        :class:`~theory.validation.ArgumentTypeError`.

    Examples
    --------
    See the module example.
    """
    import wordfreq

    langs = _check_languages(languages)
    top_n = check_int(top_n, "top_n")
    max_len = check_int(max_len, "max_len")
    letters = _check_alphabet(string.ascii_lowercase if alphabet is None else alphabet)
    allowed = frozenset(letters)

    def kept(word: str) -> bool:
        return len(word) <= max_len and all(c in allowed for c in word)

    words: set[str] = set()
    for lang in langs:
        words.update(w for w in wordfreq.top_n_list(lang, top_n) if kept(w))
    strings = sorted(words)
    F = np.array([_frequencies(strings, lang) for lang in langs], dtype=np.float64).reshape(
        len(langs), len(strings)
    )
    totals = F.sum(axis=1)
    empty = [lang for lang, t in zip(langs, totals, strict=True) if not t > 0]
    if empty:
        raise ValueError(
            f"languages: no word of {empty} among their top {top_n} is a string of length "
            f"≤ {max_len} over the alphabet {letters!r}"
        )
    D = np.ascontiguousarray(F / totals[:, None])
    D.setflags(write=False)
    return Domains(strings, D, langs, letters, top_n, max_len)


_ASCII_WORD = frozenset(string.ascii_lowercase)


def _frequencies(strings: list[str], lang: str) -> list[float]:
    """``[wordfreq.word_frequency(w, lang) for w in strings]``, the same numbers, faster.

    ``word_frequency`` tokenizes every word before looking it up, which takes
    most of its time (about 10 s for the 778,000 lookups of E10's full setup).
    A word of ASCII lowercase letters is a single token of itself for the
    languages whose tokenizer is wordfreq's regular expression (every language
    of E10), so its frequency is read from the language's table directly and
    combined and rounded to 3 significant digits exactly as ``word_frequency``
    does for one token. Any other word, or language, goes through
    ``word_frequency`` itself. ``tests/test_wordfreq.py`` compares the two.
    """
    import wordfreq
    from wordfreq.language_info import get_language_info

    if get_language_info(lang)["tokenizer"] != "regex":
        return [wordfreq.word_frequency(w, lang) for w in strings]
    table = wordfreq.get_frequency_dict(lang)
    out = []
    for w in strings:
        if not w or not _ASCII_WORD.issuperset(w):
            out.append(wordfreq.word_frequency(w, lang))
            continue
        f = table.get(w, 0.0)
        if f == 0.0:
            out.append(0.0)
            continue
        f = 1.0 / (0.0 + 1.0 / f)  # word_frequency's combination of one token's frequency
        out.append(round(f, math.floor(-math.log(f, 10)) + 3))
    return out
