"""The live objects of each kind, by where they were made or checked out.

Objects are held by weak reference (the probe must not keep alive what it watches) and
judged live when scraped: not collected, and not closed by the kind's own test. A
connection idle in a pool is shown at its pool's origin (the pool holds it); one checked
out, at the site that checked it out, as HikariCP records a borrowed connection.
Cardinality is bounded: at most `limit` (origin, endpoint) pairs per kind, the rest count
under origin "other".
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

from leaklab.probe.sites import Sites

OTHER = "other"
OTHER_KEY = (OTHER, "")
LIMIT = 20  # origins per kind per process

Key = tuple[str, str]  # (origin, endpoint)
# A kind's test at scrape time: True live, False not now (may come back), None never again.
Liveness = Callable[[Any], "bool | None"]


class _Ref(weakref.ref):  # type: ignore[type-arg]
    __slots__ = ("ident",)
    ident: int


class Record:
    """One watched object: its kind, its origin and endpoint, and what owns it."""

    __slots__ = ("kind", "ref", "key", "owner", "checked_out", "closed")

    def __init__(self, kind: str, ref: Callable[[], Any], key: Key) -> None:
        self.kind = kind
        self.ref = ref
        self.key = key
        self.owner: Record | None = None
        self.checked_out = False
        self.closed = False

    def shown(self) -> Key:
        """Where it is shown: its own site when checked out or owned by nobody, else its
        owner's (a connection idle in a pool is the pool's)."""
        record = self
        for _ in range(8):  # owners do not nest deeper; a cycle must not hang a scrape
            if record.owner is None or record.checked_out:
                return record.key
            record = record.owner
        return record.key


class _Importing(threading.local):
    """How many watched libraries this thread is importing (imports.py): while any is, it
    records nothing, as what a library makes as it is imported is not the app's."""

    depth = 0


importing = _Importing()


def _alive(_obj: object) -> bool:
    return True


class Registry:
    """Every watched object of the process, and the counts a scrape reads."""

    def __init__(
        self,
        sites: Sites,
        endpoint: Callable[[], str],
        liveness: dict[str, Liveness],
        limit: int = LIMIT,
    ) -> None:
        self.sites = sites
        self.endpoint = endpoint
        self.liveness = liveness
        self.limit = limit
        self._records: dict[int, Record] = {}
        self._keys: dict[str, dict[Key, int]] = {}  # records per pair; no pair at 0
        self._dead: deque[int] = deque()
        self._lock = threading.Lock()
        self.enabled = True
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()  # a thread of the parent may have held it

    # --- recording (the hot path: a frame walk, a weak reference, two dict writes) ---

    def _on_dead(self, ref: _Ref) -> None:
        self._dead.append(ref.ident)  # no lock: the collector may run inside a locked block

    def _counts(self, kind: str) -> dict[Key, int]:
        counts = self._keys.get(kind)
        if counts is None:
            counts = self._keys[kind] = {}
        return counts

    def _key(self, counts: dict[Key, int], key: Key) -> Key:
        """Bounded: a new pair past the kind's limit counts as other (lock held)."""
        if key in counts or key[0] == OTHER:
            return key
        named = len(counts) - (OTHER_KEY in counts)
        return key if named < self.limit else OTHER_KEY

    def _add(self, counts: dict[Key, int], record: Record, key: Key) -> None:
        record.key = self._key(counts, key)
        counts[record.key] = counts.get(record.key, 0) + 1

    def _remove(self, counts: dict[Key, int], record: Record) -> None:
        left = counts.get(record.key, 0) - 1
        if left > 0:
            counts[record.key] = left
        else:
            counts.pop(record.key, None)

    def _drop(self, ident: int, record: Record) -> None:
        if self._records.get(ident) is record:
            del self._records[ident]
            self._remove(self._counts(record.kind), record)

    def _reap(self) -> None:
        while self._dead:
            ident = self._dead.popleft()
            record = self._records.get(ident)
            if record is not None and record.ref() is None:
                self._drop(ident, record)

    def track(
        self,
        kind: str,
        obj: object,
        owner: Record | None = None,
        checked_out: bool = False,
        depth: int = 1,
        strong: bool = False,
    ) -> Record | None:
        """Watch obj as made (or checked out) here; again for the same object: re-attributed."""
        if not self.enabled or importing.depth:
            return None
        key = (self.sites.here(depth + 1), self.endpoint())
        ident = id(obj)
        known = self._records.get(ident)
        if known is not None and known.kind == kind and known.ref() is obj:
            with self._lock:  # seen before (a pool's checkout): no new weak reference
                if self._records.get(ident) is known:  # not dropped meanwhile
                    self._update(known, key, owner, checked_out)
                    return known
        try:
            ref: Callable[[], Any] = _Ref(obj, self._on_dead)
            ref.ident = ident  # type: ignore[attr-defined]
        except TypeError:  # no weak references to it
            if not strong:
                return None
            ref = _strong(obj)
        with self._lock:
            if self._dead:
                self._reap()
            record = self._records.get(ident)
            if record is not None and record.ref() is obj and record.kind == kind:
                self._update(record, key, owner, checked_out)
                return record
            if record is not None:
                self._drop(ident, record)  # a dead object's id, reused
            record = Record(kind, ref, key)
            self._add(self._counts(kind), record, key)
            self._records[ident] = record
            record.owner, record.checked_out = owner, checked_out
            return record

    def _update(self, record: Record, key: Key, owner: Record | None, checked_out: bool) -> None:
        """Re-attribute a known record (lock held)."""
        if record.key != key:
            counts = self._counts(record.kind)
            self._remove(counts, record)
            self._add(counts, record, key)
        if owner is not None:
            record.owner = owner
        record.checked_out = checked_out

    def find(self, obj: object) -> Record | None:
        record = self._records.get(id(obj))
        return record if record is not None and record.ref() is obj else None

    def checkout(self, kind: str, obj: object, owner: Record | None = None, depth: int = 1) -> None:
        """obj was handed out here: shown at this site until it is checked in."""
        self.track(kind, obj, owner=owner, checked_out=True, depth=depth + 1)

    def checkin(self, obj: object) -> None:
        record = self.find(obj)
        if record is not None:
            record.checked_out = False

    def close(self, obj: object) -> None:
        """obj is closed for good (a close the kind cannot test afterwards)."""
        record = self.find(obj)
        if record is not None:
            record.closed = True

    def forget(self, match: Callable[[Any], bool], kind: str) -> None:
        """Stop watching the kind's objects that match (atexit.unregister)."""
        with self._lock:
            for ident, record in list(self._records.items()):
                if record.kind == kind:
                    obj = record.ref()
                    if obj is None or match(obj):
                        self._drop(ident, record)

    # --- reading (at scrape time) ---

    def live(self, kinds: frozenset[str] | None = None) -> dict[str, Counter[Key]]:
        """Live objects of each kind by (origin, endpoint), at most `limit` pairs a kind."""
        with self._lock:
            self._reap()
            records = list(self._records.items())
        counts: dict[str, Counter[Key]] = {}
        gone = []
        for ident, record in records:
            if kinds is not None and record.kind not in kinds:
                continue
            obj = record.ref()
            state = None if obj is None or record.closed else self._live(record.kind, obj)
            if state is None:
                gone.append((ident, record))
            elif state:
                counts.setdefault(record.kind, Counter())[record.shown()] += 1
        if gone:
            with self._lock:
                for ident, record in gone:
                    self._drop(ident, record)
        return {kind: _bounded(c, self.limit) for kind, c in counts.items()}

    def _live(self, kind: str, obj: object) -> bool | None:
        try:
            return self.liveness.get(kind, _alive)(obj)
        except Exception:  # noqa: BLE001 (a library's object in a state we cannot read)
            return False


def _strong(obj: object) -> Callable[[], object]:
    return lambda: obj


def _bounded(counts: Counter[Key], limit: int) -> Counter[Key]:
    """The `limit` largest pairs and other, the rest summed under it (an idle pooled object
    shows its owner's pair, which its own kind has not bounded)."""
    if len(counts) - (OTHER_KEY in counts) <= limit:
        return counts
    ranked = [(key, n) for key, n in counts.most_common() if key != OTHER_KEY]
    kept = Counter(dict(ranked[:limit]))
    kept[OTHER_KEY] = counts.get(OTHER_KEY, 0) + sum(n for _key, n in ranked[limit:])
    return kept
