"""The word-frequency domains of E10: X, the rows of D, determinism and errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
import wordfreq

from sims.domains import wordfreq_domains as reexported
from sims.wordfreq import wordfreq_domains

LANGS = ["en", "de", "fr", "es"]


@pytest.fixture(scope="module")
def small():
    return wordfreq_domains(LANGS, top_n=300, max_len=8)


def test_rows_lie_on_the_simplex(small):
    D = small.D
    assert D.shape == (len(LANGS), len(small.strings))
    assert D.dtype == np.float64
    assert np.all(D >= 0)
    np.testing.assert_allclose(D.sum(axis=1), 1.0, atol=1e-12)


def test_X_is_the_union_of_the_filtered_top_lists(small):
    pattern = re.compile(r"[a-z]{1,8}")
    expected = set()
    for lang in LANGS:
        expected |= {w for w in wordfreq.top_n_list(lang, 300) if pattern.fullmatch(w)}
    assert small.strings == sorted(expected)
    assert len(set(small.strings)) == len(small.strings)
    assert small.languages == tuple(LANGS)
    assert (small.top_n, small.max_len) == (300, 8)


def test_D_is_proportional_to_the_published_frequencies(small):
    i_the = small.strings.index("the")
    i_und = small.strings.index("und")
    for k, lang in enumerate(LANGS):
        for i in (i_the, i_und):
            expected = wordfreq.word_frequency(small.strings[i], lang)
            total = sum(wordfreq.word_frequency(w, lang) for w in small.strings)
            assert small.D[k, i] == pytest.approx(expected / total, rel=1e-12)
    assert small.D[0, i_the] > small.D[1, i_the]
    assert small.D[1, i_und] > small.D[0, i_und]


def test_words_foreign_to_a_language_may_have_zero_mass(small):
    assert np.any(small.D == 0)
    assert np.all(small.D.max(axis=0) > 0)


def test_accented_words_are_dropped_unless_the_alphabet_has_them():
    plain = wordfreq_domains(["sv"], top_n=200, max_len=12)
    assert "är" not in plain.strings
    assert all(re.fullmatch(r"[a-z]+", w) for w in plain.strings)
    accented = wordfreq_domains(
        ["sv"], top_n=200, max_len=12, alphabet="abcdefghijklmnopqrstuvwxyzåäö"
    )
    assert "är" in accented.strings
    assert set(plain.strings) < set(accented.strings)


def test_the_construction_is_deterministic(small):
    again = wordfreq_domains(LANGS, top_n=300, max_len=8)
    assert again.strings == small.strings
    np.testing.assert_array_equal(again.D, small.D)


def test_sizes_grow_with_top_n_and_max_len(small):
    bigger = wordfreq_domains(LANGS, top_n=600, max_len=8)
    longer = wordfreq_domains(LANGS, top_n=300, max_len=12)
    assert set(small.strings) < set(bigger.strings)
    assert set(small.strings) < set(longer.strings)
    assert max(map(len, small.strings)) <= 8


def test_domains_module_reexports_the_constructor():
    assert reexported is wordfreq_domains


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"languages": ["en", "xx"]}, "languages"),
        ({"languages": ["en", "en"]}, "languages"),
        ({"languages": "en"}, "languages"),
        ({"languages": []}, "languages"),
        ({"top_n": 0}, "top_n"),
        ({"max_len": 1.5}, "max_len"),
        ({"alphabet": "ABC"}, "alphabet"),
        ({"alphabet": "aab"}, "alphabet"),
        ({"alphabet": ""}, "alphabet"),
        ({"alphabet": "q", "max_len": 1}, "no word"),
    ],
)
def test_bad_arguments_raise_a_named_error(kwargs, message):
    args = {"languages": ["en"], "top_n": 50, "max_len": 6} | kwargs
    with pytest.raises(ValueError, match=message):
        wordfreq_domains(**args)
