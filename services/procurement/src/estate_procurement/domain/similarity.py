"""Duplicate and re-use detection: which live systems and past TDA decisions look like a new request.

Pure Python and in memory. A :class:`SimilarityIndex` keeps postings (stemmed word, capability, supplier,
service area -> records) and a trigram index over its vocabulary, so that a search touches only the
records that share something with the request ("Aloy" finds "Alloy" through the vocabulary, not by
comparing every name), scores a capped shortlist in full, and explains each candidate in words built
from what matched ("Alloy already covers asset management for Streets and Open Spaces").
"""

from __future__ import annotations

import functools
import heapq
import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from estate_procurement.domain.values import local_date


@dataclass(frozen=True, kw_only=True)
class CatalogueSystem:
    """A register system as the procurement service keeps it, from the register's system events."""

    id: uuid.UUID
    reference: str
    name: str
    description: str = ""
    capabilities: tuple[str, ...] = ()
    supplier: str | None = None
    product_family: str | None = None
    service_areas: tuple[str, ...] = ()
    lifecycle_stage: str = "live"
    councils: tuple[str, ...] = ()
    supplier_id: uuid.UUID | None = None  # so a renamed supplier can rename its systems


@dataclass(frozen=True, kw_only=True)
class PastDecision:
    """A TDA decision on an earlier request, as re-use detection compares it with a new one."""

    request_id: uuid.UUID
    reference: str
    title: str
    summary: str = ""
    capabilities: tuple[str, ...] = ()
    product: str | None = None
    supplier: str | None = None
    service_area: str | None = None
    outcome: str
    rationale: str = ""
    decided_at: datetime


@dataclass(frozen=True, kw_only=True)
class ReuseQuery:
    """What a request says it needs, as far as matching goes; every part is optional but the title."""

    title: str
    text: str = ""
    capabilities: tuple[str, ...] = ()
    product: str | None = None
    supplier: str | None = None
    service_area: str | None = None
    exclude_request_id: uuid.UUID | None = None


@dataclass(frozen=True, kw_only=True)
class Candidate:
    """One ranked match with the reasons a person can read ("Alloy already covers asset management for
    Streets and Open Spaces"); ``score`` is in 0..1, higher is closer."""

    kind: Literal["system", "decision"]
    id: uuid.UUID
    reference: str
    name: str
    score: float
    reasons: tuple[str, ...] = field(default_factory=tuple)


# --- matching --------------------------------------------------------------------------------------

EXCLUDED_STAGES = frozenset({"retired", "decommissioned", "decommissioning"})
"""Lifecycle stages whose systems are never offered for re-use: they are gone or being switched off."""

_NOT_YET_LIVE = {
    "proposed": "proposed",
    "planned": "planned",
    "in_procurement": "being procured",
    "implementing": "being implemented",
}
"""Stages of systems that are candidates but not in use yet, and how a reason says so."""

WEIGHTS = {
    "capability": 0.35,
    "product": 0.20,
    "name": 0.15,
    "text": 0.25,
    "supplier": 0.10,
    "area": 0.05,
}
"""How much each kind of evidence counts. A score is the weighted mean over the kinds the query gives
(name and text always; capabilities, product, supplier and service area only when the query names them),
so a request that names no supplier is not marked down for it."""

MIN_SCORE = 0.2
"""Candidates below this score are noise, not something a person should be asked to look at."""

SHORTLIST = 200
"""At most this many candidates from the postings are scored in full: the cap that keeps a search fast
whatever the size of the register (the postings pre-score picks the ones worth scoring)."""

_COMMON_DF = 0.25
"""A word in more than this share of the records is too common to bring candidates in by itself (it
still counts in the scores of candidates brought in by something else)."""

_FUZZY_WORD = 0.6  # trigram Dice for two words to count as the same word misspelt ("aloy" / "alloy")
_FUZZY_NAME = 0.5  # trigram Dice for two names to be "similar"
_CAP_PARTIAL = 0.5  # word Jaccard for two capabilities to count as the same ("asset management" / "highway asset management")

_WORD_RE = re.compile(r"[a-z0-9]+")
_RAW_WORD_RE = re.compile(r"[A-Za-z0-9]+")

_STOPWORD_TEXT = """a about above after all also am an and any are as at be been being both but by can could do does
    for from had has have having he her here his how i if in into is it its itself just may me more most
    my new no nor not of off on once only or other our out over own same she should so some such than
    that the their them then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your need needs want wants using use
    used etc eg ie per via across"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())

_GENERIC_TEXT = """system systems app apps application applications software platform platforms solution solutions
    tool tools portal online digital product products module modules suite cloud saas"""
_GENERIC = frozenset(_GENERIC_TEXT.split())
"""Words that say nothing about what a product does: left out of names and text so that "Street asset
app" and "Housing app" are not similar because both are apps. ("services" stays: "Customer Services".)"""


def normalise(text: str) -> str:
    """Lower case, words separated by single spaces, punctuation dropped: the key names are compared by."""
    return " ".join(_WORD_RE.findall(text.casefold()))


def stem(word: str) -> str:
    """A light English stemmer, enough that plurals, -ment and -ing/-ed forms meet ("payments" → "payment",
    "licensing" → "licens", "services" → "servic" and "service" → "servic"). Words of three letters or
    fewer and numbers are kept as they are."""
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ment") and len(word) > 7:  # "management" meets "manage", not "payment" "pay"
        word = word[:-4]
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ing") and len(word) > 5:
        word = word[:-3]
    elif word.endswith("ed") and len(word) > 4:
        word = word[:-2]
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


def words(text: str) -> list[str]:
    """The meaningful words of ``text``, lower case, unstemmed, in order (stop and generic words out)."""
    return [w for w in _WORD_RE.findall(text.casefold()) if w not in _STOPWORDS and w not in _GENERIC]


def terms(text: str) -> set[str]:
    """The stemmed meaningful words of ``text``: what text similarity compares."""
    return {stem(w) for w in words(text)}


def trigrams(text: str) -> frozenset[str]:
    """Character trigrams of each word, padded as PostgreSQL's pg_trgm pads them ("  a", " al", "all",
    … "oy "), so a name and a misspelling of it share most of them ("Alloy" / "Aloy": Dice 0.73)."""
    return _trigrams(text.casefold())


@functools.lru_cache(maxsize=65_536)
def _trigrams(folded: str) -> frozenset[str]:
    grams: set[str] = set()
    for word in _WORD_RE.findall(folded):
        if word not in _GENERIC:
            grams |= _word_grams(word)
    return frozenset(grams)


def dice(a: frozenset[str] | set[str], b: frozenset[str] | set[str]) -> float:
    """Sørensen-Dice similarity of two sets, 0 when either is empty."""
    if not a or not b:
        return 0.0
    return 2.0 * len(a & b) / (len(a) + len(b))


@functools.lru_cache(maxsize=65_536)
def _word_grams(word: str) -> frozenset[str]:
    # Cached: the same words recur across thousands of records, which then share one set in memory.
    padded = f"  {word} "
    return frozenset(padded[i : i + 3] for i in range(len(padded) - 2))


def _join(items: list[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _on(at: datetime) -> str:
    """The Europe/London day of an instant, as people write it ("1 July 2026")."""
    day = local_date(at)
    return f"{day.day} {day:%B %Y}"


_OUTCOME_WORDS = {
    "approved": "approved",
    "approved_with_conditions": "approved with conditions",
    "not_approved": "not approved",
}


def _shorten(text: str, limit: int = 140) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: text.rfind(" ", 0, limit)].rstrip(",;:") + "…"


@dataclass(slots=True)
class _Doc:
    """One record as the index compares it, with everything a search needs computed once on upsert."""

    slot: int
    name: str
    name_grams: frozenset[str]
    name_words: tuple[tuple[str, frozenset[str]], ...]  # each meaningful name word with its trigrams
    terms: frozenset[str]  # stemmed words of name, description, capabilities, product
    caps: tuple[str, ...]  # normalised capabilities
    cap_terms: tuple[frozenset[str], ...]
    cap_labels: tuple[str, ...]  # as written, for reasons
    supplier: str  # normalised; "" when unknown
    product: str  # normalised; "" when unknown
    product_grams: frozenset[str]
    areas: tuple[str, ...]  # normalised service areas
    area_labels: tuple[str, ...]
    record: CatalogueSystem | PastDecision


@dataclass(slots=True)
class _Match:
    """The evidence for one candidate: each kind's strength in 0..1 and what matched, for the reasons."""

    capability: float = 0.0
    caps: list[str] = field(default_factory=list)  # the candidate's capabilities that matched, as written
    product: float = 0.0
    name: float = 0.0
    text: float = 0.0
    shared: list[str] = field(default_factory=list)  # query words the candidate also has, rarest first
    supplier: float = 0.0
    area: float = 0.0


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A query taken apart once per search."""

    query: ReuseQuery
    name_grams: frozenset[str]
    name_words: tuple[tuple[str, frozenset[str]], ...]
    terms: dict[str, str]  # stem -> the word as the query wrote it
    caps: tuple[str, ...]
    cap_terms: tuple[frozenset[str], ...]
    supplier: str
    product: str
    product_grams: frozenset[str]
    product_words: tuple[tuple[str, frozenset[str]], ...]
    area: str


def _prepare(query: ReuseQuery) -> _Prepared:
    surface: dict[str, str] = {}
    for text in (query.title, query.text, " ".join(query.capabilities), query.product or ""):
        for raw in _RAW_WORD_RE.findall(text):
            w = raw.casefold()
            if w not in _STOPWORDS and w not in _GENERIC:
                surface.setdefault(stem(w), raw)  # as the requester wrote it, for the reasons
    caps = tuple(dict.fromkeys(c for c in (normalise(c) for c in query.capabilities) if c))
    product = normalise(query.product or "")
    return _Prepared(
        query=query,
        name_grams=trigrams(query.title),
        name_words=tuple((w, _word_grams(w)) for w in dict.fromkeys(words(query.title))),
        terms=surface,
        caps=caps,
        cap_terms=tuple(frozenset(terms(c)) for c in caps),
        supplier=normalise(query.supplier or ""),
        product=product,
        product_grams=trigrams(product),
        product_words=tuple((w, _word_grams(w)) for w in dict.fromkeys(words(product))),
        area=normalise(query.service_area or ""),
    )


def _words_found(
    wanted: tuple[tuple[str, frozenset[str]], ...], among: tuple[tuple[str, frozenset[str]], ...]
) -> float:
    """The share of ``wanted`` words that appear in ``among``, exactly or misspelt (trigram Dice)."""
    if not wanted or not among:
        return 0.0
    found = 0.0
    for word, grams in wanted:
        best = 0.0
        for other, other_grams in among:
            if word == other:
                best = 1.0
                break
            sim = dice(grams, other_grams)
            if sim >= _FUZZY_WORD and sim > best:
                best = sim
        found += best
    return found / len(wanted)


class _Corpus:
    """Records of one kind with postings: stemmed word -> slots, capability -> slots, supplier -> slots,
    and a trigram index over the vocabulary so that a misspelt query word finds the words it means."""

    def __init__(self) -> None:
        self.docs: dict[int, _Doc] = {}
        self.slots: dict[uuid.UUID, int] = {}
        self._next = 0
        self.term_post: dict[str, set[int]] = {}
        self.cap_post: dict[str, set[int]] = {}
        self.supplier_post: dict[str, set[int]] = {}
        self.area_post: dict[str, set[int]] = {}
        self._vocab_grams: dict[str, set[str]] = {}  # trigram -> vocabulary words holding it
        self._fuzzy_cache: dict[str, tuple[tuple[str, float], ...]] = {}
        self._idf: dict[str, float] = {}
        self._norms: dict[int, float] = {}  # slot -> length of its TF-IDF vector, cached with the idf

    def __len__(self) -> int:
        return len(self.docs)

    def put(self, key: uuid.UUID, doc: _Doc) -> None:
        self.drop(key)
        if self._idf:
            self._idf.clear()
            self._norms.clear()
        slot = doc.slot = self._next
        self._next += 1
        self.docs[slot] = doc
        self.slots[key] = slot
        for term in doc.terms:
            post = self.term_post.get(term)
            if post is None:
                post = self.term_post[term] = set()
                for gram in _word_grams(term):
                    self._vocab_grams.setdefault(gram, set()).add(term)
                self._fuzzy_cache.clear()  # a new word may be what an earlier misspelling meant
            post.add(slot)
        for cap in doc.caps:
            self.cap_post.setdefault(cap, set()).add(slot)
        if doc.supplier:
            self.supplier_post.setdefault(doc.supplier, set()).add(slot)
        for area in doc.areas:
            self.area_post.setdefault(area, set()).add(slot)

    def drop(self, key: uuid.UUID) -> bool:
        slot = self.slots.pop(key, None)
        if slot is None:
            return False
        doc = self.docs.pop(slot)
        if self._idf:
            self._idf.clear()
            self._norms.clear()
        for term in doc.terms:
            post = self.term_post[term]
            post.discard(slot)
            if not post:
                del self.term_post[term]
                for gram in _word_grams(term):
                    holders = self._vocab_grams.get(gram)
                    if holders is not None:
                        holders.discard(term)
                        if not holders:
                            del self._vocab_grams[gram]
                self._fuzzy_cache.clear()
        for index, keys in ((self.cap_post, doc.caps), (self.area_post, doc.areas)):
            for k in keys:
                post = index[k]
                post.discard(slot)
                if not post:
                    del index[k]
        if doc.supplier:
            post = self.supplier_post[doc.supplier]
            post.discard(slot)
            if not post:
                del self.supplier_post[doc.supplier]
        return True

    def idf(self, term: str) -> float:
        """Inverse document frequency, log(1 + (N+1)/(df+1)): rare words count more. Cached until the
        records change (a search asks for the same few hundred words many times)."""
        value = self._idf.get(term)
        if value is None:
            df = len(self.term_post.get(term, ()))
            value = self._idf[term] = math.log(1.0 + (len(self.docs) + 1) / (df + 1))
        return value

    def similar_terms(self, term: str) -> tuple[tuple[str, float], ...]:
        """Vocabulary words equal to or misspellings of ``term``, with their similarity (1.0 for itself)."""
        cached = self._fuzzy_cache.get(term)
        if cached is not None:
            return cached
        found: dict[str, float] = {}
        if term in self.term_post:
            found[term] = 1.0
        if len(term) >= 4:  # short words are too easily "similar" to unrelated ones
            grams = _word_grams(term)
            shared: dict[str, int] = {}
            for gram in grams:
                for other in self._vocab_grams.get(gram, ()):
                    shared[other] = shared.get(other, 0) + 1
            for other, count in shared.items():
                if other == term:
                    continue
                sim = 2.0 * count / (len(grams) + len(other) + 1)  # a word of n letters has n+1 trigrams
                if sim >= _FUZZY_WORD:
                    found[other] = sim
        result = tuple(sorted(found.items()))
        if len(self._fuzzy_cache) > 10_000:
            self._fuzzy_cache.clear()
        self._fuzzy_cache[term] = result
        return result

    def shortlist(self, q: _Prepared, expanded: dict[str, tuple[tuple[str, float], ...]]) -> list[_Doc]:
        """The records worth scoring: pre-scored by what the postings say (capabilities, supplier,
        service area, shared words weighted by rarity), best ``SHORTLIST`` kept."""
        n = len(self.docs)
        if n == 0:
            return []
        acc: dict[int, float] = {}
        common = max(50, int(n * _COMMON_DF))

        def add(post: set[int], weight: float) -> None:
            get = acc.get
            for slot in post:
                acc[slot] = get(slot, 0.0) + weight

        for cap in q.caps:
            post = self.cap_post.get(cap)
            if post:
                add(post, 4.0)
        if q.supplier:
            post = self.supplier_post.get(q.supplier)
            if post:
                add(post, 2.0)
        if q.area and (post := self.area_post.get(q.area)) and len(post) <= common:
            add(post, 1.0)
        common_terms: list[tuple[set[int], float]] = []
        for similar in expanded.values():
            for term, sim in similar:
                post = self.term_post[term]
                weight = sim * self.idf(term)
                if len(post) > common:
                    common_terms.append((post, weight))
                else:
                    add(post, weight)
        if not acc:
            # Only common words matched: they are all there is to go on.
            for post, weight in common_terms:
                add(post, weight)
        if len(acc) > SHORTLIST:
            return [self.docs[slot] for slot in heapq.nlargest(SHORTLIST, acc, key=acc.__getitem__)]
        return [self.docs[slot] for slot in acc]

    def match(self, q: _Prepared, doc: _Doc, expanded: dict[str, tuple[tuple[str, float], ...]]) -> _Match:
        m = _Match()
        # Capabilities: the same one, or one whose words mostly agree.
        if q.caps and doc.caps:
            total = 0.0
            for cap, cap_terms in zip(q.caps, q.cap_terms, strict=True):
                best, label = 0.0, ""
                for other, other_terms, other_label in zip(
                    doc.caps, doc.cap_terms, doc.cap_labels, strict=True
                ):
                    if cap == other:
                        best, label = 1.0, other_label
                        break
                    if cap_terms and other_terms:
                        jac = len(cap_terms & other_terms) / len(cap_terms | other_terms)
                        if jac >= _CAP_PARTIAL and jac > best:
                            best, label = jac, other_label
                if best:
                    total += best
                    if label not in m.caps:
                        m.caps.append(label)
            m.capability = total / len(q.caps)
        elif not q.caps:
            # The request names no capability: a capability of the candidate all of whose words the
            # request uses still explains the match ("Street asset management app" / asset management).
            for other_terms, other_label in zip(doc.cap_terms, doc.cap_labels, strict=True):
                if other_terms and all(t in expanded for t in other_terms):
                    m.caps.append(other_label)
        # Product: the named product is this record's product family or (part of) its name.
        if q.product:
            if q.product == doc.product or q.product == normalise(doc.name):
                m.product = 1.0
            else:
                m.product = max(
                    dice(q.product_grams, doc.product_grams),
                    dice(q.product_grams, doc.name_grams),
                    _words_found(q.product_words, doc.name_words),
                )
                if m.product < _FUZZY_NAME:
                    m.product = 0.0
        # Name: the whole title against the whole name, or the name's words found in the title.
        name = max(dice(q.name_grams, doc.name_grams), _words_found(doc.name_words, q.name_words))
        m.name = name if name >= _FUZZY_NAME else 0.0
        # Text: TF-IDF cosine over stemmed words (binary term frequency), misspellings counting by
        # their similarity.
        q_norm = 0.0
        shared = 0.0
        hits: list[tuple[float, str]] = []
        for term in q.terms:
            w = self.idf(term)
            q_norm += w * w
            similar = expanded.get(term, ())
            best = 0.0
            for other, sim in similar:
                if other in doc.terms:
                    contribution = sim * w * self.idf(other)
                    if contribution > best:
                        best = contribution
            if best:
                shared += best
                hits.append((best, term))
        if shared:
            d_norm = self._norms.get(doc.slot)
            if d_norm is None:
                d_norm = self._norms[doc.slot] = math.sqrt(sum(self.idf(t) ** 2 for t in doc.terms))
            m.text = min(1.0, shared / (math.sqrt(q_norm) * d_norm))
            hits.sort(key=lambda hit: (-hit[0], hit[1]))
            m.shared = [q.terms[t] for _, t in hits[:3]]
        if q.supplier and doc.supplier:
            if q.supplier == doc.supplier:
                m.supplier = 1.0
            elif dice(trigrams(q.supplier), trigrams(doc.supplier)) >= 0.8:  # "Idox Ltd" / "Idox"
                m.supplier = 0.9
        if q.area and q.area in doc.areas:
            m.area = 1.0
        return m


def _score(q: _Prepared, m: _Match) -> float:
    applicable = WEIGHTS["name"] + WEIGHTS["text"]
    total = WEIGHTS["name"] * m.name + WEIGHTS["text"] * m.text
    for kind, given, value in (
        ("capability", bool(q.caps), m.capability),
        ("product", bool(q.product), m.product),
        ("supplier", bool(q.supplier), m.supplier),
        ("area", bool(q.area), m.area),
    ):
        if given:
            applicable += WEIGHTS[kind]
            total += WEIGHTS[kind] * value
    return total / applicable


def _system_doc(system: CatalogueSystem) -> _Doc:
    caps = tuple(dict.fromkeys(c for c in (normalise(c) for c in system.capabilities) if c))
    labels = {normalise(c): c.strip() for c in system.capabilities}
    product = normalise(system.product_family or "")
    return _Doc(
        slot=-1,
        name=system.name,
        name_grams=trigrams(system.name),
        name_words=tuple((w, _word_grams(w)) for w in dict.fromkeys(words(system.name))),
        terms=frozenset(
            terms(" ".join((system.name, system.description, " ".join(system.capabilities), product)))
        ),
        caps=caps,
        cap_terms=tuple(frozenset(terms(c)) for c in caps),
        cap_labels=tuple(labels[c] for c in caps),
        supplier=normalise(system.supplier or ""),
        product=product,
        product_grams=trigrams(product),
        areas=tuple(normalise(a) for a in system.service_areas),
        area_labels=tuple(system.service_areas),
        record=system,
    )


def _decision_doc(decision: PastDecision) -> _Doc:
    caps = tuple(dict.fromkeys(c for c in (normalise(c) for c in decision.capabilities) if c))
    labels = {normalise(c): c.strip() for c in decision.capabilities}
    product = normalise(decision.product or "")
    text = " ".join(
        (decision.title, decision.summary, decision.rationale, " ".join(decision.capabilities), product)
    )
    return _Doc(
        slot=-1,
        name=decision.title,
        name_grams=trigrams(decision.title),
        name_words=tuple((w, _word_grams(w)) for w in dict.fromkeys(words(decision.title))),
        terms=frozenset(terms(text)),
        caps=caps,
        cap_terms=tuple(frozenset(terms(c)) for c in caps),
        cap_labels=tuple(labels[c] for c in caps),
        supplier=normalise(decision.supplier or ""),
        product=product,
        product_grams=trigrams(product),
        areas=(normalise(decision.service_area),) if decision.service_area else (),
        area_labels=(decision.service_area,) if decision.service_area else (),
        record=decision,
    )


def _system_reasons(q: _Prepared, doc: _Doc, m: _Match) -> list[str]:
    system = doc.record
    assert isinstance(system, CatalogueSystem)
    name = system.name
    stage = _NOT_YET_LIVE.get(system.lifecycle_stage)
    reasons: list[str] = []
    areas = list(doc.area_labels)
    if q.area and q.area in doc.areas:
        # The requester's own service area first: "for Streets and Open Spaces" is what they know.
        areas.sort(key=lambda a: normalise(a) != q.area)
    where = f" for {_join(areas[:3])}" if areas else ""
    if m.caps:
        what = _join(m.caps[:3])
        if stage:
            reasons.append(f"{name} ({stage}, not live yet) will cover {what}{where}")
        else:
            reasons.append(f"{name} already covers {what}{where}")
    elif stage:
        reasons.append(f"{name} is {stage}, not live yet")
    if m.product:
        shown = system.product_family or name
        if m.product >= 0.999:
            if normalise(shown) == normalise(name):
                reasons.append(f"{name} is the product the request names")
            else:
                reasons.append(f"same product ({shown}) as {name}")
        else:
            reasons.append(f"similar product name: '{q.query.product}' and '{shown}'")
    if m.supplier:
        reasons.append(f"same supplier ({system.supplier}) as {name}")
    if m.name and not m.product:  # a product reason already says the names are alike
        reasons.append(f"similar name to '{name}'")
    # Words the capability reason already shows ("asset management for Streets and Open Spaces") say
    # nothing new when repeated as "both mention asset, open and space".
    cited = terms(" ".join([*m.caps[:3], *areas[:3]])) if m.caps else set()
    shared = [term for term in m.shared if term not in cited]
    if m.text >= 0.2 and shared:
        reasons.append(f"similar description: both mention {_join(shared)}")
    if m.area and not m.caps:
        reasons.append(
            f"{name} is already used by {next(a for a in doc.area_labels if normalise(a) == q.area)}"
        )
    return reasons


def _decision_reasons(q: _Prepared, doc: _Doc, m: _Match) -> list[str]:
    decision = doc.record
    assert isinstance(decision, PastDecision)
    outcome = _OUTCOME_WORDS.get(decision.outcome, decision.outcome.replace("_", " "))
    lead = f"{decision.reference} '{decision.title}' was {outcome} on {_on(decision.decided_at)}"
    if decision.rationale.strip():
        lead += f": {_shorten(decision.rationale)}"
    reasons = [lead]
    if m.caps:
        reasons.append(f"it asked for {_join(m.caps[:3])} too")
    if m.product:
        reasons.append(f"it named the product {decision.product}")
    if m.supplier:
        reasons.append(f"same supplier ({decision.supplier})")
    if m.name:
        reasons.append("similar title")
    if m.text >= 0.2 and m.shared:
        reasons.append(f"similar description: both mention {_join(m.shared)}")
    if m.area:
        reasons.append(f"also for {decision.service_area}")
    return reasons


class SimilarityIndex:
    """An in-memory index of the live-ish systems and the past decisions, searched for re-use candidates.

    Invariants: a system in a stage of ``EXCLUDED_STAGES`` is never a candidate (upserting it removes
    it); every candidate has at least one reason and a score in ``[MIN_SCORE, 1]``; the order is by
    score (to four places) descending, then name, then reference, so equal inputs give equal outputs.
    Not thread-safe: one event loop owns it.
    """

    def __init__(self, *, min_score: float = MIN_SCORE) -> None:
        self._systems = _Corpus()
        self._decisions = _Corpus()
        self.min_score = min_score

    def __len__(self) -> int:
        """How many systems can be candidates."""
        return len(self._systems)

    @property
    def decision_count(self) -> int:
        return len(self._decisions)

    def upsert_system(self, system: CatalogueSystem) -> None:
        """Keep ``system`` as its latest state (a system in an excluded stage is forgotten instead)."""
        if system.lifecycle_stage in EXCLUDED_STAGES:
            self._systems.drop(system.id)
        else:
            self._systems.put(system.id, _system_doc(system))

    def remove_system(self, system_id: uuid.UUID) -> bool:
        """Forget a system; False when it was not kept."""
        return self._systems.drop(system_id)

    def upsert_decision(self, decision: PastDecision) -> None:
        """Keep the latest decision on a request (it replaces an earlier one on the same request)."""
        self._decisions.put(decision.request_id, _decision_doc(decision))

    def remove_decision(self, request_id: uuid.UUID) -> bool:
        return self._decisions.drop(request_id)

    def search(self, query: ReuseQuery, *, limit: int = 10) -> list[Candidate]:
        """The best ``limit`` candidates, systems and past decisions ranked together."""
        if limit <= 0:
            return []
        q = _prepare(query)
        # Score everything shortlisted, but write reasons only for the ones that will be shown.
        scored: list[tuple[float, str, str, str, _Doc, _Match]] = []
        for corpus in (self._systems, self._decisions):
            expanded = {t: s for t in q.terms if (s := corpus.similar_terms(t))}
            for doc in corpus.shortlist(q, expanded):
                record = doc.record
                if isinstance(record, PastDecision) and record.request_id == query.exclude_request_id:
                    continue
                m = corpus.match(q, doc, expanded)
                score = min(round(_score(q, m), 4), 1.0)
                if score >= self.min_score:
                    key = record.id if isinstance(record, CatalogueSystem) else record.request_id
                    scored.append((-score, doc.name.casefold(), record.reference, str(key), doc, m))
        scored.sort(key=lambda item: item[:4])
        found: list[Candidate] = []
        for negative, _, reference, _, doc, m in scored:
            record = doc.record
            if isinstance(record, CatalogueSystem):
                kind: Literal["system", "decision"] = "system"
                reasons, key = _system_reasons(q, doc, m), record.id
            else:
                kind = "decision"
                reasons, key = _decision_reasons(q, doc, m), record.request_id
            if reasons:
                found.append(
                    Candidate(
                        kind=kind,
                        id=key,
                        reference=reference,
                        name=doc.name,
                        score=-negative,
                        reasons=tuple(reasons),
                    )
                )
                if len(found) == limit:
                    break
        return found
