"""The ASCII letters and digits of every caption's name normal form, for a whole column at once.

The exact matcher (core.names, spec/matching.md "Names") normalises a caption
with NFKC, case folding, NFKD, mark removal and NFC: microseconds a caption
in Python.  The prefilter only needs a necessary condition for a name to match,
and this module gives one that holds for every caption, ASCII or not:

    if a name matches a caption, A(normal(name)) is a substring of fold(caption)

where A(s) keeps only the characters ``[A-Za-z0-9]`` of ``s`` (it deletes
spaces and every other character) and ``fold(x)`` is the concatenation of
``M(c) = A(normalise(c))`` over the code points ``c`` of ``x``: a per-code-point
table lookup, done here over the column's UTF-8 bytes with numpy.

Why.  A matching name's normal form, spaces removed, is a substring of the
caption's normal form with spaces removed (word names: a run of whole words;
unspaced names: by definition); deleting the same characters from both keeps
that, so A(normal(name)) is a substring of A(normal(caption)).  The exact
matcher reads a prefix of the caption, and A(normal(prefix)) is a prefix of
fold(caption) once A(normal(x)) = fold(x) for every string x, which holds
when the Unicode database satisfies four conditions, checked over every code
point when the table is built (:func:`table`):

1. every character with a non-zero canonical combining class has
   K(m) = A(NFKD(casefold(m))) empty (so canonical reordering and the marks
   that NFC skips over never add or move an ASCII letter or digit);
2. every canonical pair (a, b) composing to c has K(c) = K(a) + K(b), and
   Hangul has empty K (so NFKC's compositions change nothing of K, and
   K(NFKC(x)) = K(NFKD(x)), which is the concatenation over x of K(NFKD(c)));
3. no canonical pair has an ASCII second character;
4. no ASCII letter or digit composes with a character of class 0 or with a
   kana voicing mark (the only characters mark removal keeps for the final
   NFC to compose).

Case folding is per character in Python, and NFKD only reorders marks, so K
is a homomorphism; with 1-4, A(normal(x)) = K(NFKC(x)) = fold(x).  If the
running Python's database broke a condition, :func:`table` returns None and
every non-ASCII caption goes to the exact matcher (tests/test_filter_prefilter.py
checks the conditions hold, and checks the equality with hypothesis).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa

from ..core.names import normalise

_ASCII_WORD = re.compile("[A-Za-z0-9]")
_KANA_MARKS = "\u3099\u309a"
# Bytes a UTF-8 sequence takes, by its first byte (continuation and invalid bytes: 1, so nothing is read past them).
_WIDTH = np.array([1] * 192 + [2] * 32 + [3] * 16 + [4] * 8 + [1] * 8, np.int64)


def ascii_word_chars(text: str) -> str:
    """A(text): its characters ``[A-Za-z0-9]``, nothing else."""
    return "".join(_ASCII_WORD.findall(text))


def _k(text: str) -> str:
    return ascii_word_chars(unicodedata.normalize("NFKD", text.casefold()))


@dataclass(frozen=True)
class FoldTable:
    """M for every code point: ``index[cp]`` into (``starts``, ``lengths``) of ``pool`` (index 0: empty)."""

    index: np.ndarray  # uint16 per code point
    starts: np.ndarray
    lengths: np.ndarray
    pool: np.ndarray  # uint8


@cache
def table() -> FoldTable | None:
    """The fold table of the running Unicode database, or None if it breaks a condition above.

    Built once per process (about a second): a code point without a decomposition
    that case folding leaves alone normalises to itself, and its K is empty unless
    it is ASCII, so conditions 1 and 2 hold for it (Hangul syllables included: the
    database lists no decomposition for them, and their jamo are not ASCII); only
    the few thousand others go through the normaliser and the checks.
    """
    index = np.zeros(0x110000, np.uint16)
    values: dict[str, int] = {"": 0}
    for cp in _nontrivial():
        c = chr(cp)
        decomposition = unicodedata.decomposition(c)
        if not decomposition and c.casefold() == c:
            folded = c if cp < 128 and _ASCII_WORD.match(c) else ""
        else:
            if unicodedata.combining(c) and _k(c):
                return None  # 1
            parts = decomposition.split()
            if len(parts) == 2 and not decomposition.startswith("<"):
                a, b = (chr(int(p, 16)) for p in parts)
                if _k(c) != _k(a) + _k(b) or b.isascii():
                    return None  # 2, 3
                if _ASCII_WORD.fullmatch(a) and (unicodedata.combining(b) == 0 or b in _KANA_MARKS):
                    return None  # 4
            folded = ascii_word_chars(normalise(c))
        if folded:
            index[cp] = values.setdefault(folded, len(values))
    lengths = np.array([len(v) for v in values], np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    pool = np.frombuffer("".join(values).encode("ascii"), np.uint8)
    return FoldTable(index, starts, lengths, pool)


def _nontrivial():
    """Every code point but surrogates, minus blocks of 64 that NFKD and case folding leave alone
    (NFKD never outputs a character that has a decomposition, and a case fold
    as long as its input that equals it folds each character to itself)."""
    codes = np.concatenate([np.arange(0xD800), np.arange(0xE000, 0x110000)]).astype("<u4")
    everything = codes.tobytes().decode("utf-32-le")
    for start in range(0, len(everything), 64):
        block = everything[start : start + 64]
        folded = block.casefold()
        if block.isascii() or len(folded) != len(block) or folded != block or not unicodedata.is_normalized("NFKD", block):
            yield from map(ord, block)


def fold(captions: pa.Array, folds: FoldTable) -> tuple[np.ndarray, np.ndarray]:
    """fold(caption) of every row, each followed by a space, concatenated (ASCII octets); and where each
    row starts (one more offset at the end).  Null rows fold to nothing.

    Decodes the column's UTF-8 with numpy (Arrow strings are valid UTF-8) and
    looks every code point up in the table: a few passes over the bytes, no
    Python per row.
    """
    offsets_type = np.int64 if pa.types.is_large_string(captions.type) else np.int32
    _, offsets_buffer, data_buffer = captions.buffers()
    offsets = np.frombuffer(offsets_buffer, offsets_type)[captions.offset : captions.offset + len(captions) + 1].astype(np.int64)
    rows = len(captions)
    if data_buffer is None or offsets[-1] == offsets[0]:
        return np.full(rows, ord(" "), np.uint8), np.arange(rows + 1)
    data = np.frombuffer(data_buffer, np.uint8)[offsets[0] : offsets[-1]]
    offsets -= offsets[0]
    padded = np.concatenate([data, np.zeros(3, np.uint8)]).astype(np.int64)
    lead = (data & 0xC0) != 0x80
    at = np.flatnonzero(lead)
    first = padded[at]
    width = _WIDTH[first]
    cp = first.copy()
    for size, mask in ((2, 0x1F), (3, 0x0F), (4, 0x07)):
        which = np.flatnonzero(width == size)
        value = padded[at[which]] & mask
        for k in range(1, size):
            value = (value << 6) | (padded[at[which] + k] & 0x3F)
        cp[which] = value
    entry = folds.index[np.minimum(cp, 0x10FFFF)]
    length = folds.lengths[entry]
    chars_before = np.concatenate([[0], np.cumsum(lead)])[offsets]  # code points before each row
    out_before = np.concatenate([[0], np.cumsum(length)])  # output bytes before each code point
    row_starts = out_before[chars_before] + np.arange(rows + 1)  # one space after each row
    owner = np.repeat(np.arange(len(entry)), length)  # the code point each output byte comes from
    row_of = np.repeat(np.arange(rows), np.diff(chars_before))[owner]
    text = np.full(int(row_starts[-1]), ord(" "), np.uint8)
    text[np.arange(len(owner)) + row_of] = folds.pool[folds.starts[entry[owner]] + np.arange(len(owner)) - out_before[owner]]
    return text, row_starts
