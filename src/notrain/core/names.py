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

import ahocorasick

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


_Entry = tuple[object, int, str]  # (owner, index, normalised name)


class _Batch:
    """Names added together, compiled into two Aho-Corasick automata: one over
    word names written as `` w1 w2 `` (spaces on both sides, so a hit in the
    caption's `` w1 w2 w3 `` is a run of whole words) and one over unspaced
    names without spaces (hits in the caption without spaces)."""

    def __init__(self, entries: list[tuple[bool, str, _Entry]]) -> None:
        self.size = len(entries)
        self.entries = entries
        self.words = ahocorasick.Automaton()
        self.unspaced = ahocorasick.Automaton()
        for unspaced, key, entry in entries:
            automaton = self.unspaced if unspaced else self.words
            found = automaton.get(key, None)
            if found is None:
                automaton.add_word(key, [entry])
            else:
                found.append(entry)
        for automaton in (self.words, self.unspaced):
            if len(automaton):
                automaton.make_automaton()


class NameIndex(Generic[Owner]):
    """Names of many publishers; ``match`` finds those a caption contains.

    A caption is scanned once per automaton, linear in its length plus the
    hits: at most one per name ending at each position, and names ending at the
    same place are suffixes of each other, so at most 256 (the name limit) per
    character.  Names come in batches (a manifest's); batches are kept in
    levels of doubling size, merged as in a binary counter, so adding N names
    one manifest at a time rebuilds O(N log N) entries in all and a caption
    meets O(log N) automata.  A removed owner's names are skipped until a
    rebuild drops them (when they are half of all names).
    """

    def __init__(self) -> None:
        self._levels: list[_Batch] = []
        self._pending: list[tuple[bool, str, _Entry]] = []
        self._removed: set[object] = set()
        self._dead = 0  # entries of removed owners still in some level
        self._count: dict[object, int] = {}  # owner -> its entries in levels or pending

    def add(self, owner: Owner, index: int, name: str) -> None:
        if owner in self._removed:  # re-added after removal: drop its old entries first
            self._compact()
        normal = normalise(name)
        if not normal:
            return
        if _UNSPACED.search(normal):
            self._pending.append((True, normal.replace(" ", ""), (owner, index, normal)))
        else:
            self._pending.append((False, f" {normal} ", (owner, index, normal)))
        self._count[owner] = self._count.get(owner, 0) + 1

    def remove_owner(self, owner: Owner) -> None:
        count = self._count.pop(owner, 0)
        if not count:
            return
        kept = [entry for entry in self._pending if entry[2][0] != owner]
        self._dead += count - (len(self._pending) - len(kept))
        self._pending = kept
        if self._dead:
            self._removed.add(owner)
        if self._dead * 2 > sum(level.size for level in self._levels):
            self._compact()

    def _compact(self) -> None:
        """Rebuild everything into one level without the removed owners' names."""
        live = [e for level in self._levels for e in level.entries if e[2][0] not in self._removed]
        self._levels = [_Batch(live)] if live else []
        self._removed.clear()
        self._dead = 0

    def _flush(self) -> None:
        batch = self._pending
        self._pending = []
        while self._levels and self._levels[-1].size <= len(batch):
            batch = self._levels.pop().entries + batch
        self._levels.append(_Batch(batch))

    def match(self, caption: str) -> list[NameMatch[Owner]]:
        if self._pending:
            self._flush()
        normal = normalise(caption[:MAX_CAPTION_CHARS])
        found: list[NameMatch[Owner]] = []
        if not normal:
            return found
        spaced, compact = f" {normal} ", normal.replace(" ", "")
        seen: set[int] = set()  # the automata's entry lists already reported (a name matches once)
        removed = self._removed
        for level in self._levels:
            for automaton, text in ((level.words, spaced), (level.unspaced, compact)):
                if not len(automaton):
                    continue
                for _, entries in automaton.iter(text):
                    if id(entries) in seen:
                        continue
                    seen.add(id(entries))
                    for owner, index, name in entries:
                        if owner not in removed:
                            found.append(NameMatch(owner, index, name))  # type: ignore[arg-type]
        return _unique(found)


def _unique(found: list[NameMatch[Owner]]) -> list[NameMatch[Owner]]:
    """Each (owner, index) once, in the order first found."""
    seen: set[tuple[object, int]] = set()
    unique = []
    for hit in found:
        if (hit.owner, hit.index) not in seen:
            seen.add((hit.owner, hit.index))
            unique.append(hit)
    return unique
