"""Places: a city, "City, ST" or a ZIP code located from the shipped gazetteers, and distances."""

from __future__ import annotations

import pytest

from directory.registry import places


@pytest.mark.parametrize(
    ("typed", "label"),
    [
        ("Omaha, NE", "Omaha, NE"),
        ("omaha, nebraska", "Omaha, NE"),
        ("68102", "Omaha, NE 68102"),
        ("68102-1234", "Omaha, NE 68102"),
        ("Toronto, ON", "Toronto, ON"),
        ("Big Sky, MT", "Big Sky, MT"),  # a resort town no population-cut city list has
        ("Kiawah Island, SC", "Kiawah Island, SC"),
        ("Portland", "Portland, OR"),  # a bare name: the most populous US city of that name
        ("Paris, FR", "Paris, FR"),
    ],
)
def test_a_place_is_resolved_and_reads_as_understood(typed, label):
    assert places.resolve(typed).label == label


def test_a_state_decides_which_city_of_a_name():
    vail_co = places.locate("Vail", "CO", "US")
    vail_az = places.locate("Vail", "AZ", "US")
    assert vail_co and vail_az
    assert places.distance_km(vail_co, vail_az) > 500
    assert places.locate("Vail", "Colorado", None) == vail_co  # a state by name; the US by default


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("Nowhere Special, NE", "we cannot find"),
        ("00000", "not a US ZIP code we know"),
        ("Xyzzyville", "we cannot find"),
    ],
)
def test_an_unknown_place_says_what_to_write(typed, says):
    with pytest.raises(places.PlaceNotFound, match=says) as caught:
        places.resolve(typed)
    assert "City, ST" in str(caught.value)


def test_distances_are_great_circle_kilometres():
    omaha = places.resolve("Omaha, NE").point
    lincoln = places.resolve("Lincoln, NE").point
    chicago = places.resolve("Chicago, IL").point
    # Omaha to Lincoln is about 80 km and to Chicago about 700 km, as the crow flies.
    assert 70 < places.distance_km(omaha, lincoln) < 90
    assert 650 < places.distance_km(omaha, chicago) < 760
    assert places.distance_km(omaha, omaha) == 0
    assert places.distance_km(omaha, chicago) == pytest.approx(places.distance_km(chicago, omaha))
    assert places.nearest_km(omaha, [chicago, lincoln]) == places.distance_km(omaha, lincoln)
    assert places.nearest_km(omaha, []) is None
    # A quarter of the way round the Earth along the equator.
    quarter = places.distance_km(places.Point(0, 0), places.Point(0, 90))
    assert quarter == pytest.approx(places.EARTH_RADIUS_KM * 3.141592653589793 / 2)
