"""The time-zone list: canonical names by region, and aliases that keep their time."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.urls import reverse

from accounts.forms import ProfileForm
from accounts.models import User
from config import timezones
from tests.accounts.test_accounts import signup
from tests.conftest import logged_in
from tests.factories import UserFactory, make_couple, make_ritual

DEPRECATED = ["US/Pacific", "GB-Eire", "Zulu", "Etc/GMT+5", "Asia/Calcutta", "EST5EDT"]


def selected_zone(html: str) -> list[str]:
    select = re.search(r'<select name="time_zone".*?</select>', html, re.S).group(0)
    return re.findall(r'<option value="([^"]+)"[^>]*\bselected\b', select)


def test_the_list_holds_canonical_names_only():
    zones = settings.TIME_ZONES
    for name in DEPRECATED:
        assert name not in zones
    for name in ["UTC", "Europe/Berlin", "Europe/Oslo", "America/Los_Angeles", "Asia/Kolkata"]:
        assert name in zones
    assert 300 < len(zones) < 500
    assert len(set(zones)) == len(zones)
    for name in zones:
        ZoneInfo(name)  # every one loads


def test_aliases_stand_for_their_zone():
    assert timezones.canonical("US/Pacific") == "America/Los_Angeles"
    assert timezones.canonical("GB-Eire") == "Europe/London"
    assert timezones.canonical("Zulu") == "UTC"
    assert timezones.canonical("Asia/Calcutta") == "Asia/Kolkata"
    assert timezones.canonical("Europe/Oslo") == "Europe/Oslo"
    assert timezones.canonical("Mars/Olympus_Mons") is None
    # every alias leads to a zone of the list
    for alias, zone in timezones.aliases().items():
        assert zone in settings.TIME_ZONES, alias


def test_the_select_groups_zones_by_region_with_their_country(db, client):
    html = client.get(reverse("account_signup")).content.decode()
    groups = re.findall(r'<optgroup label="([^"]+)"', html)
    assert groups == list(timezones.REGIONS.values())
    assert '<option value="Europe/Paris">Paris · France</option>' in html
    assert "US/Pacific" not in re.sub(r"data-zone-aliases=\"[^\"]*\"", "", html)


def test_signing_up_with_an_alias_saves_its_zone(client, db):
    response = signup(client, time_zone="GB-Eire")
    assert response.status_code == 302
    assert User.objects.get(email="dana@example.com").time_zone == "Europe/London"


@pytest.fixture
def pacific(db):
    user = UserFactory(email="pat@example.com", display_name="Pat", time_zone="US/Pacific")
    make_couple(user)
    return user


def test_someone_stored_with_an_alias_sees_their_zone_selected(pacific):
    user_client = logged_in(pacific)
    html = user_client.get(reverse("profile")).content.decode()
    assert selected_zone(html) == ["America/Los_Angeles"]
    pacific.full_clean()  # the stored alias is still a valid value


def test_saving_settings_unchanged_keeps_their_time(pacific):
    form = ProfileForm(instance=pacific)
    data = {name: form[name].value() for name in ("display_name", "time_zone")}
    response = logged_in(pacific).post(reverse("profile"), data)
    assert response.status_code == 302
    pacific.refresh_from_db()
    assert pacific.time_zone == "America/Los_Angeles"


def test_a_stored_fixed_offset_stays_offered_to_whoever_has_it(db):
    user = UserFactory(time_zone="Etc/GMT+5")
    make_couple(user)
    html = logged_in(user).get(reverse("profile")).content.decode()
    assert selected_zone(html) == ["Etc/GMT+5"]
    response = logged_in(user).post(
        reverse("profile"), {"display_name": "Kim", "time_zone": "Etc/GMT+5"}
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.time_zone == "Etc/GMT+5"
    # ... but nobody else can pick it
    other = UserFactory(time_zone="Europe/Berlin")
    make_couple(other)
    response = logged_in(other).post(
        reverse("profile"), {"display_name": "Lou", "time_zone": "Etc/GMT+5"}
    )
    assert response.status_code == 422


def test_a_ritual_in_an_alias_zone_opens_with_its_zone_selected(couple, alice_client):
    ritual = make_ritual(couple, time_zone="Europe/Kiev")
    html = alice_client.get(reverse("ritual_edit", args=[ritual.pk])).content.decode()
    assert selected_zone(html) == ["Europe/Kyiv"]
