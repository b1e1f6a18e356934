"""Matching names and pseudonyms in captions and prompts.

An artist lists the names that must not become captions or prompt tokens
("by Jane Doe", "janedoe_art").  Captions spell them in every way, so both
sides are normalised the same way (spec/matching.md, "Names"):

1. Unicode NFKC, then case folding (full-width and styled letters fold too);
2. combining marks removed (``Zoë`` matches ``Zoe``), except the kana
   voicing marks;
3. everything that is not a letter or digit becomes a word break, so
   ``jane_doe``, ``Jane-Doe`` and ``@jane.doe`` are the words ``jane doe``.

A name then matches a caption that contains its words as a contiguous run of
whole words (``jane doe`` does not match ``jane does``).  Scripts written
without spaces (Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar) have no word boundaries to honour, so
a name containing them matches as a substring of the normalised caption.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Generic, Hashable, TypeVar

Owner = TypeVar("Owner", bound=Hashable)

MAX_CAPTION_CHARS = 65536
_WORD = re.compile(r"[^\W_]+")
# Scripts written without spaces between words: Thai, Lao, Myanmar, Khmer,
# Hiragana, Katakana (and its extensions), Han (all blocks and extensions).
_UNSPACED = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\U00020000-\U000323af]"
)
# Kana voicing marks are combining, but ジ is not シ: they are kept.
_KEPT_MARKS = frozenset("\u3099\u309a")


def normalise(text: str) -> str:
    """Name normal form: NFKC, case-folded, no combining marks, single spaces between words."""
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    stripped = "".join(c for c in folded if not unicodedata.combining(c) or c in _KEPT_MARKS)
    return " ".join(_WORD.findall(unicodedata.normalize("NFC", stripped)))


@dataclass(frozen=True)
class NameMatch(Generic[Owner]):
    owner: Owner
    index: int  # the name's position in its manifest
    name: str  # the normalised name that matched


class NameIndex(Generic[Owner]):
    """Names of many publishers; ``match`` finds those a caption contains.

    Word names are keyed by their first word, so a caption costs one dictionary
    lookup per word plus a comparison per candidate name, not one per name.
    """

    def __init__(self) -> None:
        self._by_first_word: dict[str, list[tuple[tuple[str, ...], Owner, int, str]]] = {}
        self._unspaced: list[tuple[str, Owner, int]] = []
        self._first_words_of: dict[Owner, set[str]] = {}  # so that removing an owner is O(its names)

    def add(self, owner: Owner, index: int, name: str) -> None:
        normal = normalise(name)
        if not normal:
            return
        if _UNSPACED.search(normal):
            self._unspaced.append((normal.replace(" ", ""), owner, index))
        else:
            words = tuple(normal.split(" "))
            self._by_first_word.setdefault(words[0], []).append((words, owner, index, normal))
            self._first_words_of.setdefault(owner, set()).add(words[0])

    def remove_owner(self, owner: Owner) -> None:
        for first in self._first_words_of.pop(owner, ()):
            kept = [entry for entry in self._by_first_word[first] if entry[1] != owner]
            if kept:
                self._by_first_word[first] = kept
            else:
                del self._by_first_word[first]
        if any(entry[1] == owner for entry in self._unspaced):
            self._unspaced = [entry for entry in self._unspaced if entry[1] != owner]

    def match(self, caption: str) -> list[NameMatch[Owner]]:
        normal = normalise(caption[:MAX_CAPTION_CHARS])
        words = normal.split(" ") if normal else []
        found: list[NameMatch[Owner]] = []
        seen: set[tuple[Owner, int]] = set()
        for position, word in enumerate(words):
            for name_words, owner, index, name in self._by_first_word.get(word, ()):
                if (owner, index) not in seen and tuple(words[position : position + len(name_words)]) == name_words:
                    seen.add((owner, index))
                    found.append(NameMatch(owner, index, name))
        compact = normal.replace(" ", "") if self._unspaced else ""
        for name, owner, index in self._unspaced:
            if (owner, index) not in seen and name in compact:
                seen.add((owner, index))
                found.append(NameMatch(owner, index, name))
        return found
