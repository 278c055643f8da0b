"""The registry: load the data file, look codes up, search them by words."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from importlib import resources
from pathlib import Path

import yaml

from bot.i18n import _
from bot.registry.models import Line, RegistryFile, ResponseCode, Status, Table

_STOPWORDS = frozenset(
    {
        "a",
        "an",
        "the",
        "is",
        "are",
        "be",
        "to",
        "of",
        "for",
        "and",
        "or",
        "in",
        "on",
        "at",
        "my",
        "your",
        "our",
        "it",
        "its",
        "this",
        "that",
        "with",
        "by",
        "i",
        "you",
        "we",
        "please",
        "what",
        "why",
        "how",
        "does",
        "do",
        "did",
    }
)
_WORD = re.compile(r"[a-z0-9]+")
_HTTP_PREFIX = re.compile(r"^(?:http|status)\s*[:/]?\s*(\S.*)$", re.IGNORECASE)
_RC_PREFIX = re.compile(r"^(?:rc|code|response_code)\s*[:=#]?\s*(\d+)$", re.IGNORECASE)
# `postpaid 11`, `pp 11`, `pp:11`, `postpaid duplicate`: a query for the postpaid table.
_LINE_PREFIX = re.compile(r"^(\w+)\b[\s:/]*(.*)$")
_LINE_NAMES = {"postpaid": Line.POSTPAID, "pp": Line.POSTPAID, "prepaid": Line.PREPAID}


def line_named(word: str) -> Line | None:
    """The line a word names (`postpaid`, `pp`, `prepaid`), else None."""
    return _LINE_NAMES.get(word.lower())


def normalize_rc(text: str) -> str | None:
    """IAK's spelling of a numeric rc: `6` → `06`, `017` → `17`, `0` → `00`; None if not numeric."""
    text = text.strip()
    if not text.isascii() or not text.isdigit():
        return None
    return text.lstrip("0").rjust(2, "0")


@dataclass(frozen=True)
class Found:
    """The query names one code.

    `note` explains a reading the user may not expect; `homonym` is the other line's code
    with the same number and another meaning, which the user may have meant.
    """

    code: ResponseCode
    note: str | None = None
    homonym: ResponseCode | None = None


@dataclass(frozen=True)
class Matches:
    """Codes (two or more, of any table) whose words match the query, best first."""

    query: str
    codes: tuple[ResponseCode, ...]
    corrected: str | None = None


@dataclass(frozen=True)
class Unknown:
    """Nothing matches in `line`'s table (None: in any table); the closest codes, nearest first."""

    query: str
    suggestions: tuple[ResponseCode, ...]
    line: Line | None = None


@dataclass(frozen=True)
class Empty:
    """No code or words given (after `postpaid`, for `line` POSTPAID)."""

    line: Line = Line.PREPAID


Lookup = Found | Matches | Unknown | Empty


@dataclass(frozen=True)
class _Indexed:
    code: ResponseCode
    description_words: frozenset[str]
    solution_words: frozenset[str]
    order: int


@dataclass
class Registry:
    """Every IAK response code of both lines, with lookup by code and search by words.

    Rows are keyed by (table, code): `rc("06")` is prepaid's TRANSACTION NOT FOUND,
    `rc("06", line=Line.POSTPAID)` postpaid's INQUIRY ID NOT FOUND.
    """

    codes: tuple[ResponseCode, ...]
    _by_key: dict[str, ResponseCode] = field(init=False, repr=False)
    _by_line: dict[Line, dict[str, ResponseCode]] = field(init=False, repr=False)
    _index: tuple[_Indexed, ...] = field(init=False, repr=False)
    _vocabulary: tuple[str, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_key = {entry.key: entry for entry in self.codes}
        self._by_line = {line: {} for line in Line}
        for entry in self.codes:
            if entry.table is not Table.HTTP:
                self._by_line[entry.table.line][entry.code] = entry
        self._index = tuple(
            _Indexed(entry, _words(entry.description), _words(entry.solution), order)
            for order, entry in enumerate(self.codes)
        )
        vocabulary: set[str] = set()
        for item in self._index:
            vocabulary |= item.description_words | item.solution_words
        self._vocabulary = tuple(sorted(vocabulary))

    @classmethod
    def load(cls, path: Path | None = None) -> Registry:
        """Load and validate the data file (the packaged one unless a path is given)."""
        if path is None:
            text = resources.files("bot.registry").joinpath("codes.yaml").read_text("utf-8")
        else:
            text = path.read_text("utf-8")
        return cls(RegistryFile.model_validate(yaml.safe_load(text)).codes)

    def __iter__(self) -> Iterator[ResponseCode]:
        return iter(self.codes)

    def __len__(self) -> int:
        return len(self.codes)

    def get(self, key: str) -> ResponseCode | None:
        """The row with exactly this key ("17", "400", "OTHER", "postpaid 11")."""
        return self._by_key.get(key)

    def rc(self, rc: str | int | None, *, line: Line = Line.PREPAID) -> ResponseCode | None:
        """The row for a code as IAK sends it (`"06"`, `6`, `"017"`).

        Prepaid (and game) by default, for the `rc` of prepaid answers; `line=Line.POSTPAID`
        for the `response_code` of postpaid answers. HTTP rows are never returned.
        """
        if rc is None:
            return None
        key = normalize_rc(str(rc))
        return self._by_line[line].get(key) if key else None

    def homonym(self, code: ResponseCode) -> ResponseCode | None:
        """The other line's code with the same number when it means something else."""
        if code.table is Table.POSTPAID:
            return self.rc(code.code) if code.same_as_prepaid is False else None
        if code.table is Table.HTTP:
            return None
        other = self.rc(code.code, line=Line.POSTPAID)
        return other if other is not None and other.same_as_prepaid is False else None

    def http_status(self, status: int) -> ResponseCode:
        """The HTTP-table row for an HTTP status IAK answered with (200, 400, else OTHER)."""
        return self._by_key.get(str(status)) or self._by_key["OTHER"]

    def response_codes(self, line: Line = Line.PREPAID) -> list[ResponseCode]:
        """One line's response codes (no HTTP rows), in registry order."""
        return list(self._by_line[line].values())

    def by_status(self, line: Line = Line.PREPAID) -> dict[Status, list[ResponseCode]]:
        """One line's response codes (no HTTP rows) grouped by status, in registry order."""
        groups: dict[Status, list[ResponseCode]] = {}
        for entry in self.response_codes(line):
            groups.setdefault(entry.status, []).append(entry)
        return groups

    def http_rows(self) -> list[ResponseCode]:
        """The HTTP status table."""
        return [entry for entry in self.codes if entry.table is Table.HTTP]

    def lookup(self, query: str) -> Lookup:
        """Answer `/iak code <query>`: a code, an HTTP status, words to search, or unknown.

        `postpaid …` (or `pp …`) asks the postpaid table alone; anything else is prepaid
        first, a number only the postpaid table knows next, and words search both tables.
        """
        query = " ".join(query.split())
        if not query:
            return Empty()

        line: Line | None = None
        prefixed = _LINE_PREFIX.match(query)
        if prefixed:
            line = line_named(prefixed.group(1))
            if line is Line.POSTPAID:
                return self._lookup_postpaid(prefixed.group(2))
            if line is Line.PREPAID:
                query = prefixed.group(2)
                if not query:
                    return Empty()

        http = _HTTP_PREFIX.match(query)
        if http:
            return self._lookup_http(http.group(1).strip(), query)

        rc_prefixed = _RC_PREFIX.match(query)
        if rc_prefixed:
            query = rc_prefixed.group(1)

        if query.upper() == "OTHER":
            return Found(self._by_key["OTHER"])

        numeric = normalize_rc(query)
        if numeric is not None:
            entry = self._by_key.get(numeric)
            if entry is not None:
                return self._found(entry)
            postpaid = self.rc(numeric, line=Line.POSTPAID) if line is None else None
            if postpaid is not None:
                return Found(
                    postpaid,
                    note=_(
                        "{code} is not a prepaid response code; IAK's postpaid table has it:"
                    ).format(code=numeric),
                )
            if _is_http_status(int(numeric)):
                near = ", ".join(entry.code for entry in self.closest(numeric))
                return Found(
                    self._by_key["OTHER"],
                    note=_(
                        "{code} is not an IAK response code. As an HTTP status from IAK it falls "
                        "under “any other status” (below). Response codes close to it: {near}."
                    ).format(code=numeric, near=near),
                )
            return Unknown(query, self.closest(numeric), line)

        return self._search(query, line=line)

    def _lookup_postpaid(self, query: str) -> Lookup:
        if not query:
            return Empty(Line.POSTPAID)
        rc_prefixed = _RC_PREFIX.match(query)
        if rc_prefixed:
            query = rc_prefixed.group(1)
        numeric = normalize_rc(query)
        if numeric is not None:
            entry = self.rc(numeric, line=Line.POSTPAID)
            if entry is not None:
                return self._found(entry)
            return Unknown(query, self.closest(numeric, line=Line.POSTPAID), Line.POSTPAID)
        return self._search(query, line=Line.POSTPAID)

    def _found(self, entry: ResponseCode, note: str | None = None) -> Found:
        return Found(entry, note=note, homonym=self.homonym(entry))

    def _lookup_http(self, status_text: str, query: str) -> Lookup:
        digits = status_text.split()[0]
        if digits.isascii() and digits.isdigit() and 100 <= int(digits) <= 599:
            return Found(self.http_status(int(digits)))
        if digits.upper() == "OTHER":
            return Found(self._by_key["OTHER"])
        return Unknown(query, tuple(self.http_rows()))

    def search(self, query: str, *, line: Line | None = None) -> tuple[ResponseCode, ...]:
        """Codes whose description or solution contain the query's words, best first.

        Every table (the HTTP one too) unless `line` names one line.
        """
        return self._rank(_terms(query), line)

    def _search(self, query: str, *, line: Line | None) -> Lookup:
        terms = _terms(query)
        found = self._rank(terms, line)
        corrected: str | None = None
        if not found:
            corrected_terms = [self._correct(term) for term in terms]
            if corrected_terms != terms and all(corrected_terms):
                found = self._rank(corrected_terms, line)
                corrected = " ".join(corrected_terms)
        if not found:
            return Unknown(query, (), line)
        if len(found) == 1:
            only = _("The only code matching “{query}”:").format(query=corrected or query)
            return self._found(found[0], note=only)
        return Matches(query, found, corrected=corrected)

    def _correct(self, term: str) -> str:
        close = difflib.get_close_matches(term, self._vocabulary, n=1, cutoff=0.75)
        return close[0] if close else term

    def _rank(self, terms: list[str], line: Line | None) -> tuple[ResponseCode, ...]:
        if not terms:
            return ()
        scored: list[tuple[int, float, int, ResponseCode]] = []
        for item in self._index:
            if line is not None and (item.code.table is Table.HTTP or item.code.table.line != line):
                continue
            matched = 0
            score = 0.0
            for term in terms:
                weight = max(
                    3.0 * _match(term, item.description_words),
                    1.0 * _match(term, item.solution_words),
                )
                if weight:
                    matched += 1
                    score += weight
            if matched:
                scored.append((-matched, -score, item.order, item.code))
        scored.sort(key=lambda row: row[:3])
        return tuple(row[3] for row in scored)

    def closest(
        self, code: str, *, line: Line = Line.PREPAID, limit: int = 3
    ) -> tuple[ResponseCode, ...]:
        """One line's codes nearest to an unknown numeric one: similar spelling, then nearby."""
        numbered = self.response_codes(line)

        def distance(entry: ResponseCode) -> tuple[int, float, int]:
            similarity = difflib.SequenceMatcher(None, code, entry.code).ratio()
            return (abs(len(entry.code) - len(code)), -similarity, abs(int(entry.code) - int(code)))

        return tuple(sorted(numbered, key=distance)[:limit])


def _words(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.lower()))


def _terms(query: str) -> list[str]:
    return [word for word in _WORD.findall(query.lower()) if word not in _STOPWORDS]


def _match(term: str, words: Iterable[str]) -> float:
    """1 for the word itself, 0.8 for a word it starts (`block` → `blocked`), else 0."""
    best = 0.0
    for word in words:
        if word == term:
            return 1.0
        if len(term) >= 3 and word.startswith(term):
            best = 0.8
        elif len(word) >= 4 and term.startswith(word) and len(term) - len(word) <= 2:
            best = max(best, 0.8)  # plurals and -ed forms: `deposits` → `deposit`
    return best


def _is_http_status(number: int) -> bool:
    """A registered HTTP status, or any 5xx (proxies in front of IAK invent 520-530)."""
    if 500 <= number <= 599:
        return True
    try:
        HTTPStatus(number)
    except ValueError:
        return False
    return True
