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


@pytest.mark.parametrize("lang", ["en", "de", "fr", "es", "it", "nl", "pt", "sv", "tr"])
def test_table_lookup_gives_word_frequency_exactly(lang):
    """The fast lookup returns wordfreq.word_frequency's numbers bit for bit: on the
    language's own top words, on words of the other languages (zeros included), on
    accented, capitalized and multi-token strings (which go through word_frequency);
    Turkish lower-cases its dotted and dotless i differently."""
    from sims.wordfreq import _frequencies

    words = set(wordfreq.top_n_list(lang, 3000)[::3])
    for other in ("en", "de", "fr", "sv"):
        words |= set(wordfreq.top_n_list(other, 1500)[::5])
    words |= {"für", "är", "The", "don't", "new york", "zzzqqq", "a1b", "ß", ""}
    words = sorted(words)
    fast = _frequencies(words, lang)
    slow = [wordfreq.word_frequency(w, lang) for w in words]
    assert fast == slow
    assert any(f == 0.0 for f in fast) and any(f > 0.0 for f in fast)


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


# ----------------------------------------------------------------------------- E10


def _tiny_e10_params() -> dict:
    from paper_repro.experiments import e10_wordfreq

    return e10_wordfreq.params("quick") | {
        "languages": ["en", "de", "fr"],
        "top_n": 150,
        "max_len": 8,
        "order": 1,
        "m": 3000,
        "spd_steps": 100,
        "distill_max_iter": 200,
    }


@pytest.fixture(scope="module")
def e10():
    from paper_repro.experiments import e10_wordfreq

    p = _tiny_e10_params()
    return p, e10_wordfreq.run(p)


def _kl_scipy(p, q) -> float:
    from scipy.special import rel_entr

    return float(rel_entr(p, q).sum())


def test_E10_per_language_kl_and_worst_case_match_an_independent_computation(e10):
    _, data = e10
    D = data["D"]
    for i, q in enumerate(data["models"]):
        expected = [_kl_scipy(D[k], q) for k in range(D.shape[0])]
        np.testing.assert_allclose(data["kl"][i], expected, rtol=1e-9, atol=1e-12)
        # The worst case over Δ_K is at a vertex: no mixture D_λ is farther from q.
        lams = np.random.default_rng(i).dirichlet(np.ones(D.shape[0]), 50)
        inner = max(_kl_scipy(lam @ D, q) for lam in lams)
        assert inner <= max(expected) + 1e-9


def test_E10_robust_gate_equalizes_the_languages_it_weights(e10):
    _, data = e10
    i = data["names"].index("robust gate (dual)")
    kl, lam = data["kl"][i], data["lam_star"]
    v = kl.max()
    assert np.all(np.abs(kl[lam > 1e-6] - v) <= 1e-6)
    assert np.all(kl <= v + 1e-9)


def test_E10_T10_no_mixture_of_the_experts_beats_the_robust_gate(e10):
    _, data = e10
    D, P = data["D"], data["P"]
    v = data["kl"][data["names"].index("robust gate (dual)")].max()
    rng = np.random.default_rng(5)
    for alpha in [*np.eye(P.shape[0]), *rng.dirichlet(np.ones(P.shape[0]), 30)]:
        q = alpha @ P
        assert max(_kl_scipy(D[k], q) for k in range(D.shape[0])) >= v - 1e-7


def test_E10_outputs_record_X_the_frequencies_and_the_seeds(tmp_path):
    import csv
    import json

    import paper_repro.reproduce as rp
    from paper_repro.experiments import e10_wordfreq

    p = _tiny_e10_params()
    exp = rp.Experiment(**{**e10_wordfreq.EXPERIMENT.__dict__, "params": lambda mode: p})
    assert rp.reproduce(out=tmp_path, experiments=[exp]) == 0
    fresh = wordfreq_domains(p["languages"], p["top_n"], p["max_len"])
    with open(tmp_path / "E10_wordfreq_X.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["word"] for r in rows] == fresh.strings
    for k, lang in enumerate(p["languages"]):
        np.testing.assert_array_equal([float(r[f"D_{lang}"]) for r in rows], fresh.D[k])
    payload = json.loads((tmp_path / "E10_wordfreq.json").read_text())
    for seed in ("expert_seed", "pooled_seed", "regmix_seed", "spd_seed"):
        assert payload["params"][seed] == p[seed]
    lam = [r["lam_star_dual"] for r in payload["tables"]["lambda"]]
    assert sum(lam) == pytest.approx(1.0)
    methods = {r["method"] for r in payload["tables"][""]}
    assert {"robust gate (dual)", "uniform mixture", "aggregate retraining"} <= methods
    assert {"primal-dual gate (loglik)", "distilled router", "group DRO", "RegMix"} <= methods


def test_E10_check_passes_and_fails_when_a_mixture_beats_the_robust_gate(e10):
    from paper_repro.experiments import e10_wordfreq

    _, data = e10
    passed, measured = e10_wordfreq.check(data)
    assert passed, measured
    names = data["names"]
    worse = data["kl"].copy()
    worse[names.index("robust gate (dual)")] = worse[names.index("uniform mixture")] + 0.1
    assert not e10_wordfreq.check(data | {"kl": worse})[0]
