"""The caption prefilter never drops a row the exact name matcher would match (issue 10 §6).

The fold of filter/fold.py is checked against core.names' normaliser itself on
adversarial Unicode (compatibility characters, combining marks, dotted I, sharp s,
final sigma, full-width letters, unspaced scripts, Hangul), and the whole
prefilter (ASCII whole-word pass + fold pass) against NameIndex.match, caption
by caption, with hypothesis and on spec/vectors/names.json.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from notrain.core import decide
from notrain.core.catalog import Catalog
from notrain.core.ijson import dumps
from notrain.core.keys import PrivateKey
from notrain.core.manifest import parse_payload
from notrain.core.names import MAX_CAPTION_CHARS, NameIndex, normalise
from notrain.filter import BatchFilter, Columns
from notrain.filter.captions import NamePrefilter
from notrain.filter.fold import ascii_word_chars, fold, table

VECTORS = json.loads((Path(__file__).parent.parent / "spec" / "vectors" / "names.json").read_text())["vectors"]
# Characters whose normal form is not what they look like, or not themselves.
TRICKY = (
    "AaBbJjKkSsIiOoEe0123456789 _-.@"
    "ＡａＪＫｓ０９\u212a\u212b\u2126ſßẞİıǅǄǈﬁﬀﬃﬅⓐⒶ𝐀𝒂𝟗²³¹½ℌℍ™㎑㍱ᵃᴬ"
    "ΣσςΐΰᾳᾼΆ\u0345ÅåÖöøØæÆœŒĲĳŉǰẖẘẙẚ"
    "\u0300\u0301\u0307\u0308\u0327\u0338\u036f\u20dd\u3099\u309a\u309b\u309c"
    "東京山田花子ジシかがカ\uff76\uff9e가각ᄀ\u1161\u11a8ไทย\u0e31ខ្មែរ"
    "ЁёЖжЙй\u0418\u0306٣①⑴⒈\u00a0\u3000\u2028\ufeff\u200b\u200d"
)
tricky_text = st.text(st.sampled_from(TRICKY), max_size=24) | st.text(max_size=12)
NOW = "2026-11-01T00:00:00Z"


def _catalog(names: list[str]) -> Catalog:
    catalog = Catalog()
    person = PrivateKey.from_seed(b"prefilter".ljust(32, b"\0")).public.did_key
    catalog.add(parse_payload(dumps({"notrain": 1, "publisher": person, "sequence": 1, "issued": NOW,
                                     "expires": "2027-11-01T00:00:00Z", "default": {"train-ai": "n"},
                                     "names": [{"name": n} for n in names]})))
    return catalog


def _matched(names: list[str], caption: str) -> set[int]:
    index: NameIndex[str] = NameIndex()
    for i, name in enumerate(names):
        index.add("p", i, name)
    return {hit.index for hit in index.match(caption)}


def _spellings(name: str) -> st.SearchStrategy[str]:
    """The name as captions write it: other case, decomposed, full width, with marks or joiners."""
    def fullwidth(s: str) -> str:
        return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)
    return st.sampled_from([name, name.upper(), name.lower(), unicodedata.normalize("NFD", name), unicodedata.normalize("NFKC", name),
                            fullwidth(name), name.replace("s", "ſ"), name.replace("ss", "ß"), name.replace("i", "İ"),
                            "\u0301".join(name), name.replace(" ", "_"), name.swapcase()])


def test_the_fold_table_holds_for_this_unicode_database():
    """The four conditions of fold.py hold for every code point of the running Python's database."""
    folds = table()
    assert folds is not None
    assert folds.pool.tobytes().isascii() and int(folds.lengths.max()) <= 8


@given(st.lists(tricky_text, min_size=1, max_size=6))
@example(["Straße İstanbul ǅ ﬁ ㎑ Ｋ ᾳ", "", "x\u0345\u0301y", "가각", "Σς"])
@settings(max_examples=200, deadline=None)
def test_fold_is_the_ascii_letters_and_digits_of_the_normal_form(texts):
    """fold(x) = A(normal(x)) for every string: the lemma the prefilter stands on (stronger than it needs)."""
    text, starts = fold(pa.array(texts, pa.string()), table())
    assert len(starts) == len(texts) + 1
    for i, caption in enumerate(texts):
        assert text[starts[i] : starts[i + 1]].tobytes().decode("ascii") == ascii_word_chars(normalise(caption)) + " ", caption


@given(st.lists(tricky_text.filter(lambda n: ascii_word_chars(normalise(n)) != ""), min_size=1, max_size=4), st.data())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_caption_the_exact_matcher_matches_is_always_a_candidate(names, data):
    """Names with a key, so non-ASCII captions take the fold pass (an unkeyed name sends them all on)."""
    catalog = _catalog(names)
    prefilter = NamePrefilter(catalog)
    captions = []
    for _ in range(6):
        spelled = data.draw(_spellings(data.draw(st.sampled_from(names))))
        captions.append(data.draw(tricky_text) + data.draw(st.sampled_from(["", " ", "_", "x", "\u0301", "東"])) + spelled
                        + data.draw(st.sampled_from(["", " ", ".", "9", "\u0308"])) + data.draw(tricky_text))
    captions += [data.draw(tricky_text) for _ in range(4)]
    candidates = prefilter.candidates(pa.array(captions, pa.string()))
    for caption, candidate in zip(captions, candidates):
        if _matched(names, caption):
            assert candidate, (names, caption)


def test_the_names_vectors_are_candidates():
    """The fold of each normal-form vector; each matching vector's names, alone in a catalog (so keyed names take the fold pass), flag its caption."""
    folded = 0
    for vector in VECTORS:
        if "text" in vector:  # a normal-form vector: the fold is its ASCII letters and digits
            assert fold(pa.array([vector["text"]]), table())[0].tobytes() == (ascii_word_chars(vector["expect"]["normal"]) + " ").encode()
            continue
        names = [n["name"] for n in vector["names"]]
        for pointer in vector["expect"]["matches"]:
            name = names[int(pointer.rsplit("/", 1)[1])]
            prefilter = NamePrefilter(_catalog([name]))
            assert prefilter.candidates(pa.array([vector["caption"]]))[0], vector["id"]
            folded += not vector["caption"].isascii() and not prefilter.unkeyed
    assert folded >= 3  # full-width, accented and sharp-s captions went through the fold, not the fallback


def test_unrelated_non_ascii_captions_are_not_candidates():
    """The point: a non-ASCII caption without the key of any name skips the exact matcher."""
    prefilter = NamePrefilter(_catalog(["Zoë Quist", "Mira Okafor", "ＡＢＣ Studio"]))
    captions = ["café au lait", "東京の夜", "Ёлка", "naïve façade", "zoë quist", "ZOE\u0308QUIST!", "ａｂｃ ＳＴＵＤＩＯ", "mira_okafor 東京"]
    assert prefilter.candidates(pa.array(captions)).tolist() == [False] * 4 + [True] * 4


def test_a_name_without_ascii_letters_sends_every_non_ascii_caption_to_the_exact_matcher():
    prefilter = NamePrefilter(_catalog(["山田花子", "Mira Okafor"]))
    assert prefilter.unkeyed
    assert prefilter.candidates(pa.array(["café", "a cat", "山田 花子"])).tolist() == [True, False, True]


def test_long_captions_are_read_to_their_end_by_the_fold():
    """Past the exact matcher's cut the fold still reads (a substring of the prefix's fold is one of the whole)."""
    prefilter = NamePrefilter(_catalog(["Ann Lee"]))
    long_ascii = "by ann lee " + "x" * MAX_CAPTION_CHARS
    captions = [long_ascii, "x" * MAX_CAPTION_CHARS + " cat", "y " * MAX_CAPTION_CHARS + "ÄNN LEE"]
    assert prefilter.candidates(pa.array(captions)).tolist() == [True, False, True]
    assert _matched(["Ann Lee"], long_ascii)


def test_the_worst_caption_costs_one_search_and_a_bounded_fold():
    """Within the caption limit the fold is at most the table's longest entry per code point, and a
    caption made of keys is still a candidate (the automaton reports non-overlapping matches: linear)."""
    folds = table()
    widest = max(range(0x80, 0x10000), key=lambda cp: int(folds.lengths[folds.index[cp]]))
    caption = chr(widest) * MAX_CAPTION_CHARS
    text, _ = fold(pa.array([caption, caption]), folds)
    assert len(text) == 2 * (int(folds.lengths[folds.index[widest]]) * MAX_CAPTION_CHARS + 1)
    key = ascii_word_chars(normalise(chr(widest)))
    prefilter = NamePrefilter(_catalog([key * k for k in range(1, 50)]))
    assert prefilter.candidates(pa.array([caption, "é", caption])).tolist() == [True, False, True]


@given(st.lists(tricky_text, min_size=20, max_size=40))
@settings(max_examples=40, deadline=None)
def test_batch_decisions_equal_decide_on_non_ascii_captions(captions):
    """The batch core against decide() row by row, on captions that mostly take the fold pass."""
    names = ["Zoë Quist", "Straße Ann", "ＪＯ Lee", "ǅemal İnce"]
    catalog = _catalog(names)
    captions = captions + ["Zoe quist!", "STRASSE_ANN", "jo-lee", "DŽEMAL ince", "dzemal i\u0307nce", "ｚｏë ｑｕｉｓｔ"]
    batch = pa.RecordBatch.from_pydict({"url": [f"https://x.example/{i}" for i in range(len(captions))], "caption": captions})
    keep = BatchFilter(catalog).apply(batch, Columns(caption="caption")).column("notrain_keep").to_pylist()
    expected = [decide(catalog.statements(url=u, text=c)).allowed("train-ai") for u, c in zip(batch.column("url").to_pylist(), captions)]
    assert keep == expected
    assert not all(expected)


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
def test_sliced_and_large_string_columns(kind):
    """Offsets are read from the array's own offset and width (Spark and Dask hand over large_string)."""
    prefilter = NamePrefilter(_catalog(["Zoë Quist", "Mira Okafor"]))
    column = pa.array(["café", "ZOE QUIST", "zoë_quist 東京", None, "", "mira okafor", "x", "ｍｉｒａ okafor"], kind).slice(1)
    assert prefilter.candidates(column).tolist() == [True, True, False, False, True, False, True]
