"""The storage contract's ``Appended.latest`` on both backends: an append says whether its manifest set the
publisher's floor, which lets the query index skip reading the latest manifest back (issue 8 §9)."""

from __future__ import annotations

import asyncio

from test_aggregator_storage import DID, accept, new_entry, storage, url  # noqa: F401  (fixtures)


async def test_an_append_says_whether_it_set_the_floor(storage):  # noqa: F811
    flags = [(await accept(storage, n, sequence, payload, keys)).latest
             for n, sequence, payload, keys in [(1, 1, b"first", {"old"}), (2, 2**53 - 1, b"thief", {"old"}), (3, 1, b"rotated", {"new"}),
                                                (4, 1, b"a twin", {"new"}), (5, 0, b"lower", {"new"})]]
    assert flags == [True, True, True, False, False]  # the twin is an equivocation, the lower one keeps the floor
    again = await storage.append(new_entry(6, key=b"k"), None, None)
    assert not again.latest and again.manifest is None


async def test_the_last_append_that_set_the_floor_is_the_latest_manifest(storage):  # noqa: F811
    appended = await asyncio.gather(*(accept(storage, s, s, b"%d" % s) for s in range(30, 0, -1)))
    setting = [a for a in appended if a.latest]
    assert setting and all(a.manifest is not None for a in setting)
    last = max(setting, key=lambda a: a.entry.id)
    assert (await storage.latest_manifest(DID)).id == last.manifest.id
