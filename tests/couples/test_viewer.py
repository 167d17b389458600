"""The viewer: user, seat, space and partner from one query, the session checked as Django would."""

from __future__ import annotations

from django.test import RequestFactory
from django.urls import reverse

from couples import services
from couples.viewer import Row, viewer_for
from rituals.models import Ritual
from tests.conftest import forget_whole_pages, logged_in
from tests.factories import make_ritual


def _request_for(client):
    """A request carrying ``client``'s session, for calling the viewer directly."""
    from importlib import import_module

    from django.conf import settings

    engine = import_module(settings.SESSION_ENGINE)
    request = RequestFactory().get("/")
    request.session = engine.SessionStore(client.cookies[settings.SESSION_COOKIE_NAME].value)
    return request


def test_one_query_brings_the_user_the_seat_the_space_and_the_partner(
    couple, alice, bob, alice_client, django_assert_num_queries
):
    request = _request_for(alice_client)
    request.session.load()  # the session row is not the viewer's to count
    with django_assert_num_queries(1):
        viewer = viewer_for(request)
        assert viewer.user == alice
        assert viewer.membership.seat == 1 and viewer.couple == couple
        assert viewer.partner == bob and viewer.partner.display_name == "Bob"
        assert [m.user for m in viewer.members] == [alice, bob]
        assert str(viewer.zone) == "Europe/Berlin"
    # Columns come back as the ORM reads them (SQLite sends datetimes as text).
    assert viewer.couple.created_at == type(couple).objects.get(pk=couple.pk).created_at


def test_the_row_a_fast_path_asks_for_comes_in_the_same_query(
    couple, alice_client, charlie, django_assert_num_queries
):
    ritual = make_ritual(couple)
    theirs = make_ritual(services.active_membership(charlie).couple)
    request = _request_for(alice_client)
    request.session.load()
    with django_assert_num_queries(1):
        viewer = viewer_for(request, ritual=Row(Ritual, ritual.pk))
    assert viewer.extra["ritual"] == ritual and viewer.extra["ritual"].title == ritual.title
    # Another space's row reads as nothing, whatever its primary key.
    request = _request_for(alice_client)
    assert viewer_for(request, ritual=Row(Ritual, theirs.pk)).extra["ritual"] is None


def test_a_page_reads_the_viewer_once(couple, alice_client, django_assert_num_queries):
    ritual = make_ritual(couple)
    alice_client.get(reverse("ritual_detail", args=[ritual.pk]))  # warm the cached regions
    forget_whole_pages()
    # the viewer, the ritual: request.user, login_required and the page share it
    with django_assert_num_queries(2):
        response = alice_client.get(reverse("ritual_detail", args=[ritual.pk]))
    assert response.status_code == 200
    assert response.wsgi_request.user.display_name == "Alice"
    # Kept whole now: the viewer alone, read by the page cache, the view not run.
    with django_assert_num_queries(1):
        response = alice_client.get(reverse("ritual_detail", args=[ritual.pk]))
    assert response.wsgi_request.user.display_name == "Alice"


def test_a_password_change_elsewhere_ends_the_session(couple, alice, alice_client):
    assert alice_client.get(reverse("rituals")).status_code == 200
    alice.set_password("a-whole-new-passphrase")
    alice.save()
    response = alice_client.get(reverse("rituals"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    # The session is gone, not only refused: the next page is a visitor's.
    assert "_auth_user_id" not in alice_client.session


def test_a_session_made_under_a_fallback_key_survives_the_rotation_renewed(couple, alice, settings):
    client = logged_in(alice)
    old = settings.SECRET_KEY
    settings.SECRET_KEY = "rotated-" + "k" * 50
    assert client.get(reverse("rituals")).status_code == 302  # no fallback yet: over
    client = logged_in(alice)
    settings.SECRET_KEY = old + "-next"
    settings.SECRET_KEY_FALLBACKS = ["rotated-" + "k" * 50]
    assert client.get(reverse("rituals")).status_code == 200
    settings.SECRET_KEY_FALLBACKS = []
    # Renewed under the current key by the visit above, as Django's get_user does.
    assert client.get(reverse("rituals")).status_code == 200


def test_an_inactive_user_is_a_visitor(couple, alice, alice_client):
    alice.is_active = False
    alice.save()
    response = alice_client.get(reverse("rituals"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_a_member_who_left_is_sent_to_start_again_and_sees_nothing_of_the_space(
    couple, alice, bob, alice_client
):
    ritual = make_ritual(couple)
    url = reverse("ritual_detail", args=[ritual.pk])
    assert alice_client.get(url).status_code == 200
    services.leave_couple(alice)
    response = alice_client.get(url)
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    page = alice_client.get("/").content.decode()
    assert "Bob" not in page and ritual.title not in page
    # Keep, from the fast path, is refused too.
    keep = alice_client.post(reverse("ritual_keep", args=[ritual.pk]), {"occurrence": "x"})
    assert keep.status_code == 404


def test_an_outsider_gets_404_where_the_member_gets_200(couple, alice_client, charlie_client):
    ritual = make_ritual(couple)
    url = reverse("ritual_detail", args=[ritual.pk])
    assert alice_client.get(url).status_code == 200
    assert charlie_client.get(url).status_code == 404
    keep = reverse("ritual_keep", args=[ritual.pk])
    assert charlie_client.post(keep, {"occurrence": "x"}).status_code == 404


def test_a_visitor_is_anonymous_without_a_query(db, client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get(reverse("rituals"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
