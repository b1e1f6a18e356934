"""Which captions may carry an opted-out name: a cheap prefilter over a whole column.

The exact matcher (core.names, spec/matching.md "Names") normalises each caption
with NFKC and case folding, which costs microseconds a row.  For an ASCII
caption that normal form is simply its ASCII-lowercased letters and digits
split into words, so a caption can contain a name only if it contains the
name's longest word as a whole word.  The prefilter looks for those words in
one pass of an Aho-Corasick automaton over the column's text (every byte that is
not a letter or digit turned into a space), and sends to the exact matcher only:

* ASCII captions where such a word occurs;
* captions that are not ASCII (NFKC can turn full-width or accented letters
  into the ASCII ones of a name) or longer than the exact matcher reads
  (its cut may end a caption in the middle of a word).

Names whose normal form is not ASCII (and names of scripts written without
spaces) can only occur in non-ASCII captions, which all go to the exact matcher.

The pass is linear in the column's text: a pattern is `` word `` with spaces
only at its ends, so at most one pattern ends at any position.
"""

from __future__ import annotations

import ahocorasick
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..core.catalog import Catalog
from ..core.names import MAX_CAPTION_CHARS, normalise

# Letters and digits lowercased, every other byte a word break.
_WORDS_ONLY = bytes(c + 32 if 65 <= c <= 90 else c if 97 <= c <= 122 or 48 <= c <= 57 else 32 for c in range(256))


class NamePrefilter:
    """Built once per catalog; :meth:`candidates` marks the rows the exact matcher must read."""

    def __init__(self, catalog: Catalog) -> None:
        anchors = set()
        for manifest in catalog.manifests():
            for name in manifest.names:
                normal = normalise(name.name)
                if normal and normal.isascii():
                    anchors.add(max(normal.split(" "), key=len))
        self.anchors = len(anchors)
        self._automaton = ahocorasick.Automaton()
        for anchor in anchors:
            self._automaton.add_word(f" {anchor} ", None)
        if anchors:
            self._automaton.make_automaton()

    def candidates(self, captions: pa.Array) -> np.ndarray:
        """Row mask of the captions the exact matcher must read (null and empty captions never)."""
        present = pc.fill_null(pc.greater(pc.binary_length(captions), 0), False)
        exact = pc.and_(present, pc.or_(pc.invert(pc.string_is_ascii(captions)), pc.greater(pc.binary_length(captions), MAX_CAPTION_CHARS)))
        mask = pc.fill_null(exact, False).to_numpy(zero_copy_only=False).copy()
        if self.anchors:
            mask[self._rows_with_anchor(captions)] = True
        return mask

    def _rows_with_anchor(self, captions: pa.Array) -> np.ndarray:
        blank = pa.scalar("", captions.type)  # string or large_string: the kernel wants one type throughout
        spaced = pc.binary_join_element_wise(blank, captions, blank, pa.scalar(" ", captions.type))  # " caption ": words never run across rows
        offsets_type = np.int64 if pa.types.is_large_string(spaced.type) else np.int32
        _, offsets_buffer, data = spaced.buffers()
        offsets = np.frombuffer(offsets_buffer, dtype=offsets_type)[spaced.offset : spaced.offset + len(spaced) + 1]
        if data is None or offsets[-1] == offsets[0]:
            return np.zeros(0, dtype=np.int64)
        text = data.to_pybytes()[offsets[0] : offsets[-1]].translate(_WORDS_ONLY).decode("ascii")
        ends = np.fromiter((end for end, _ in self._automaton.iter(text)), dtype=np.int64)
        return np.searchsorted(offsets, ends + offsets[0], side="right") - 1
