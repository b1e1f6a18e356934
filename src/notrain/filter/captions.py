"""Which captions may carry an opted-out name: a cheap prefilter over a whole column.

The exact matcher (core.names, spec/matching.md "Names") normalises each caption
with NFKC and case folding, which costs microseconds a row.  The prefilter
sends it only the rows where a name may occur, by two conservative passes:

* ASCII captions no longer than the exact matcher reads: their normal form is
  simply their ASCII-lowercased letters and digits split into words, so a
  caption can contain a name only if it contains the name's longest word as a
  whole word.  One pass of an Aho-Corasick automaton over the column's text
  (every byte that is not a letter or digit turned into a space) finds those
  words; a pattern is `` word `` with spaces only at its ends, so at most one
  pattern ends at any position and the pass is linear.  Names whose normal form
  is not ASCII cannot occur in these captions.
* every other caption (not ASCII, or longer than the exact matcher reads): a
  name can match only if the ASCII letters and digits of its normal form occur
  together in the caption's fold (fold.py: a per-code-point table of the normal
  form's ASCII letters and digits, proven to hold for every string), found by
  a second automaton.  A name whose normal form has no ASCII letter or digit
  (a name in Cyrillic or Han only) has no such key: while the catalog holds one,
  every such caption goes to the exact matcher.
"""

from __future__ import annotations

import ahocorasick_rs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..core.catalog import Catalog
from ..core.names import MAX_CAPTION_CHARS, normalise
from .fold import ascii_word_chars, fold, table

# Letters and digits lowercased, every other byte a word break.
_WORDS_ONLY = bytes(c + 32 if 65 <= c <= 90 else c if 97 <= c <= 122 or 48 <= c <= 57 else 32 for c in range(256))


class NamePrefilter:
    """Built once per catalog; :meth:`candidates` marks the rows the exact matcher must read."""

    def __init__(self, catalog: Catalog) -> None:
        anchors, keys = set(), set()
        self.unkeyed = False  # a name without ASCII letters or digits: no fold key
        for manifest in catalog.manifests():
            for name in manifest.names:
                normal = normalise(name.name)
                if not normal:
                    continue
                if normal.isascii():
                    anchors.add(max(normal.split(" "), key=len))
                key = ascii_word_chars(normal)
                if key:
                    keys.add(key)
                else:
                    self.unkeyed = True
        self.anchors, self.keys = len(anchors), len(keys)
        self._automaton = _automaton(f" {anchor} " for anchor in anchors)
        self._keys = _automaton(keys)

    def candidates(self, captions: pa.Array) -> np.ndarray:
        """Row mask of the captions the exact matcher must read (null and empty captions never)."""
        length = pc.binary_length(captions)
        present = pc.fill_null(pc.greater(length, 0), False)
        folded = pc.and_(present, pc.or_(pc.invert(pc.string_is_ascii(captions)), pc.greater(length, MAX_CAPTION_CHARS)))
        mask = np.zeros(len(captions), bool)
        if self.anchors:
            mask[self._rows_with_anchor(captions)] = True
        rows = np.flatnonzero(pc.fill_null(folded, False).to_numpy(zero_copy_only=False))
        if len(rows):
            mask[rows[self._folded_candidates(captions.take(pa.array(rows, pa.int64())))]] = True
        return mask

    def _folded_candidates(self, captions: pa.Array) -> np.ndarray:
        """Indexes of the rows whose fold holds a name's key (all rows if the fold cannot tell)."""
        folds = table()
        if folds is None or self.unkeyed:
            return np.arange(len(captions))
        if not self.keys:
            return np.zeros(0, np.int64)
        text, starts = fold(captions, folds)
        hits = np.array([start for _, start, _ in self._keys.find_matches_as_indexes(text)], np.int64)  # type: ignore[union-attr]
        return np.unique(np.searchsorted(starts, hits, side="right") - 1)

    def _rows_with_anchor(self, captions: pa.Array) -> np.ndarray:
        blank = pa.scalar("", captions.type)  # string or large_string: the kernel wants one type throughout
        spaced = pc.binary_join_element_wise(blank, captions, blank, pa.scalar(" ", captions.type))  # " caption ": words never run across rows
        offsets_type = np.int64 if pa.types.is_large_string(spaced.type) else np.int32
        _, offsets_buffer, data = spaced.buffers()
        offsets = np.frombuffer(offsets_buffer, dtype=offsets_type)[spaced.offset : spaced.offset + len(spaced) + 1]
        if data is None or offsets[-1] == offsets[0]:
            return np.zeros(0, dtype=np.int64)
        text = data.to_pybytes()[offsets[0] : offsets[-1]].translate(_WORDS_ONLY)
        starts = np.array([start for _, start, _ in self._automaton.find_matches_as_indexes(text)], np.int64)  # type: ignore[union-attr]
        return np.searchsorted(offsets, starts + offsets[0], side="right") - 1


def _automaton(words) -> ahocorasick_rs.BytesAhoCorasick | None:
    """The words' automaton (ASCII), searched for non-overlapping matches: a row holding any word has at
    least one reported, since a match never spans rows and the one reported instead of an overlapping
    word overlaps it, so lies in its row."""
    words = sorted(words)
    return ahocorasick_rs.BytesAhoCorasick([word.encode("ascii") for word in words]) if words else None
