"""The query budget of a request, and every GET route of the URL configuration.

`measure` runs one request under `CaptureQueriesContext` and `problems` says what is wrong with
it: more than `BUDGET` queries, or one query *shape* (the SQL with its literals, numbers and
`IN (...)` lists taken out) run more than `MAX_REPEATS` times, which is how an N+1 looks.
`routes` walks `django.urls.get_resolver()` (the ninja API at /api/v1/ is Django URL patterns
too) and `Route.url` fills a route's arguments in."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from django.db import connection
from django.http import HttpResponseBase
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern
from django.utils.regex_helper import normalize

BUDGET = 40  # queries per request, every page and API read, every role (the dashboard: 40)
MAX_REPEATS = 3  # the same query shape more often than this is a loop querying per row
PER_ROW_FROM = 3  # rows from which a list is also compared with itself at ?limit=1 (per_row)

# Statements that are bookkeeping, not reads: a transaction's savepoints differ only by name.
_BOOKKEEPING = re.compile(r"^\s*(SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT)\b", re.I)
_WRITE = re.compile(r"^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)\"?", re.I)


def shape(sql: str) -> str:
    """The query with its values taken out: the same query for other ids is the same shape."""
    s = re.sub(r"'(?:[^']|'')*'", "?", sql)  # string literals (dates, codes, quoted params)
    s = re.sub(r"%s|\$\d+", "?", s)  # placeholders left in
    s = re.sub(r"(?<![\w\"])-?\d+(?:\.\d+)?(?![\w\"])", "?", s)  # numbers, not inside names
    s = re.sub(r"\bIN\s*\(\s*\?(?:\s*,\s*\?)*\s*\)", "IN (...)", s, flags=re.I)
    s = re.sub(r"\b(?:TRUE|FALSE|NULL)\b", "?", s, flags=re.I)
    return re.sub(r"\s+", " ", s).strip()


@dataclass
class Measured:
    """One request: its status and the SQL it ran."""

    label: str
    status: int
    queries: list[str]
    response: HttpResponseBase | None = field(default=None, repr=False)

    @property
    def count(self) -> int:
        return len(self.queries)

    def repeated(self) -> list[tuple[str, int]]:
        """Query shapes run more than MAX_REPEATS times, most repeated first."""
        shapes = Counter(shape(q) for q in self.queries if not _BOOKKEEPING.match(q))
        return [(s, n) for s, n in shapes.most_common() if n > MAX_REPEATS]

    def writes(self) -> list[str]:
        """The tables this request wrote to."""
        return sorted({m.group(2) for q in self.queries if (m := _WRITE.match(q))})


def measure(client: Client, url: str, label: str = "", **headers: str) -> Measured:
    """GET `url` and capture its queries; redirects are not followed."""
    connection.queries_log.clear()  # a full log (9000 entries) would capture nothing
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **headers)  # type: ignore[arg-type]
    return Measured(
        label or url,
        response.status_code,
        [q["sql"] for q in captured.captured_queries],
        response,
    )


def problems(measured: Measured, *, budget: int = BUDGET) -> list[str]:
    """What is wrong with a request's queries, one line each; empty when it keeps the budget."""
    found = []
    if measured.count > budget:
        found.append(f"{measured.label}: {measured.count} queries (budget {budget})")
    for sql, n in measured.repeated():
        found.append(f"{measured.label}: one query shape {n} times: {sql[:300]}")
    return found


def rows(measured: Measured) -> int | None:
    """How many rows an API list answered (a JSON array), else None."""
    response = measured.response
    if response is None or not response.get("Content-Type", "").startswith("application/json"):
        return None
    body = json.loads(response.content)
    return len(body) if isinstance(body, list) else None


def one_row_url(url: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}limit=1"


def per_row(full: Measured, one: Measured) -> list[str]:
    """Query shapes of a list that grow with its rows: `full` answered n >= PER_ROW_FROM rows,
    `one` the same list at ?limit=1. A prefetch adds one query per relation, however many rows,
    so a shape run at least 2 and n - 1 more times is run per row: an N+1 on a list too
    short for MAX_REPEATS to see (3 rows, 2 queries each, is 3 repeats)."""
    n = rows(full)
    if n is None or n < PER_ROW_FROM or rows(one) != 1:
        return []
    counts = Counter(shape(q) for q in full.queries if not _BOOKKEEPING.match(q))
    counts.subtract(shape(q) for q in one.queries if not _BOOKKEEPING.match(q))
    return [
        f"{full.label}: one query shape {more} more times for {n} rows than for 1: {sql[:300]}"
        for sql, more in counts.most_common()
        if more >= n - 1
    ]


# --- the routes -----------------------------------------------------------------------------
_ROUTE_ARG = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<parameter>[^>]+)>")
_DUMMY = {"int": "1", "path": "x", "slug": "x", "str": "x", "uuid": "0" * 32}


@dataclass(frozen=True)
class Route:
    """A URL pattern with the patterns it is included under."""

    pieces: tuple[RoutePattern | RegexPattern, ...]
    name: str  # namespace:name, or "" for an unnamed pattern

    @property
    def pattern(self) -> str:
        return "".join(str(p) for p in self.pieces)

    @property
    def arguments(self) -> dict[str, str]:
        """Each URL argument and its converter name ("re" for a regular expression group)."""
        args: dict[str, str] = {}
        for piece in self.pieces:
            if isinstance(piece, RoutePattern):
                for m in _ROUTE_ARG.finditer(str(piece)):
                    args[m["parameter"]] = m["converter"] or "str"
            else:
                args.update(dict.fromkeys(piece.regex.groupindex, "re"))
        return args

    def url(self, values: Mapping[str, str]) -> str:
        out = "/"
        for piece in self.pieces:
            if isinstance(piece, RoutePattern):
                out += _ROUTE_ARG.sub(lambda m: quote(values[m["parameter"]], safe=""), str(piece))
            else:
                template, params = normalize(piece.regex.pattern)[0]
                out += template % {p: quote(values[p], safe="") for p in params}
        return out

    def dummy_url(self) -> str | None:
        """The route with placeholder arguments (to find a POST-only route), or None when an
        argument is a regular expression group no placeholder is known to match."""
        args = self.arguments
        if "re" in args.values():
            return None
        return self.url({name: _DUMMY.get(conv, "1") for name, conv in args.items()})


def routes(skip: tuple[str, ...] = ("admin/",)) -> Iterator[Route]:
    """Every URL pattern, in URL configuration order; one per distinct pattern (the ninja API
    names one pattern per operation, all answering the same path)."""
    seen: set[str] = set()

    def walk(
        resolver: URLResolver, pieces: tuple[RoutePattern | RegexPattern, ...], namespace: str
    ) -> Iterator[Route]:
        for entry in resolver.url_patterns:
            here = (*pieces, entry.pattern) if str(entry.pattern) else pieces
            if isinstance(entry, URLResolver):
                if str(entry.pattern).startswith(skip):
                    continue
                inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
                yield from walk(entry, here, inner)
            elif isinstance(entry, URLPattern):
                route = Route(here, f"{namespace}{entry.name}" if entry.name else "")
                if route.pattern not in seen:
                    seen.add(route.pattern)
                    yield route

    yield from walk(get_resolver(), (), "")
