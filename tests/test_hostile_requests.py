"""Property-based tests of the search request parser: whatever a query string holds, the
parser answers with a request or with problems a person can act on, never a crash, and the
links it makes read back into the same search."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from directory.search import FACET_NAMES, SearchRequest, SearchRequestError, parse_request

NAMES = [*FACET_NAMES, "q", "when", "date_from", "date_to", "credits_min", "credits_max"]
NAMES += ["claim_within", "sort", "page", "per_page", "unknown"]
NAMES += ["my_state", "near", "within", "unit", "include_online"]
EXAMPLES = 400
ran = {"arbitrary": 0, "plausible": 0}

# Values that look like what the parser expects, and ones that don't: numbers of every size,
# dates, words, control characters and lone surrogates (a query string can carry them all).
plausible = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.dates().map(lambda d: d.isoformat()),
    st.sampled_from(["any", "upcoming", "this_month", "custom", "relevance", "soonest", "ABIM"]),
    st.sampled_from(["TX", "texas", "Omaha, NE", "68102", "Portland", "km", "yes", "distance"]),
    st.text(max_size=60),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0xDFFF), max_size=20),
)


def check(args: MultiDict) -> None:
    try:
        first = parse_request(args)
    except SearchRequestError as refused:
        assert refused.problems, "a refusal names what is wrong"
        assert all(isinstance(m, str) and m for m in refused.problems.values())
        return
    assert isinstance(first, SearchRequest)
    # The page's links are built from to_params(): they must read back to the same search.
    again = parse_request(MultiDict(first.to_params()))
    assert parse_request(MultiDict(again.to_params())) == again
    assert (again.text, again.filters, again.when, again.page) == (
        first.text,
        first.filters,
        first.when,
        first.page,
    )
    assert (again.my_state, again.near_place, again.unit, again.include_online) == (
        first.my_state,
        first.near_place,
        first.unit,
        first.include_online,
    )


@given(st.lists(st.tuples(st.sampled_from(NAMES), st.text(max_size=300)), max_size=12))
@settings(max_examples=EXAMPLES, deadline=None)
def test_arbitrary_query_strings_never_crash_the_parser(pairs):
    ran["arbitrary"] += 1
    check(MultiDict(pairs))


@given(st.lists(st.tuples(st.sampled_from(NAMES), plausible), max_size=12))
@settings(max_examples=EXAMPLES, deadline=None)
def test_plausible_query_strings_parse_or_are_refused_by_name(pairs):
    ran["plausible"] += 1
    check(MultiDict(pairs))


def test_the_properties_ran_their_cases():
    # Runs after the two above (pytest keeps file order): each searched its full budget.
    print(f"parser cases run: {ran}")
    assert ran["arbitrary"] >= EXAMPLES * 0.9
    assert ran["plausible"] >= EXAMPLES * 0.9
