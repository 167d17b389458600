"""The visibility rule as SQL (``Readable``) opens exactly what the rule built with the ORM does.

A space with every kind of entry (shared, sealed answered by one or by both,
private; in a session and outside one; the same prompt in two sessions), a
partner who answered and then left, the one who joined after, and an
outsider with a space of their own. For every reader, the entries each rule
lets them read must be the same set, read as a top-level query and inside a
subquery (where the entries' table has another alias), and not empty: the
comparison is of something.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, Value
from django.db.models.functions import Coalesce

from couples import services
from couples.models import Membership
from exercises import engine
from exercises.models import Entry, Session, Visibility
from tests.factories import UserFactory, make_couple

SEALED, SHARED, PRIVATE = Visibility.SEALED, Visibility.SHARED, Visibility.PRIVATE


def write(couple, author, key: str, visibility, session=None) -> Entry:
    return Entry.objects.create(
        couple=couple, author=author, prompt_key=key, visibility=visibility, session=session
    )


def populated_space(check=lambda readers: None):
    alice, bob, dana = (UserFactory(display_name=n) for n in ("Alice", "Bob", "Dana"))
    charlie = UserFactory(display_name="Charlie")
    couple = make_couple(alice, bob)
    elsewhere = make_couple(charlie)
    first = engine.start(couple, alice, 1, "eye_gazing", "two_devices", {})
    engine.act(first.pk, couple.pk, 1, "end", {})
    second = engine.start(couple, bob, 2, "eye_gazing", "two_devices", {})
    engine.act(second.pk, couple.pk, 1, "end", {})
    for session in (None, first, second):
        write(couple, alice, "both:sealed", SEALED, session)
        write(couple, bob, "both:sealed", SEALED, session)
        write(couple, alice, "alice-only:sealed", SEALED, session)
        write(couple, bob, "bob-only:sealed", SEALED, session)
        write(couple, alice, "open", SHARED, session)
        write(couple, bob, "mine", PRIVATE, session)
    write(couple, alice, "across:sealed", SEALED, first)  # answered in another session
    write(couple, bob, "across:sealed", SEALED, second)
    write(elsewhere, charlie, "both:sealed", SEALED)  # the same prompt in another space
    write(elsewhere, charlie, "open", SHARED)
    readers_before = [alice, bob, charlie, dana]
    check(readers_before)
    # Bob answered, then left (Alice keeps the space for now); Dana pairs with
    # Alice, and both answer.
    services.leave_couple(bob)
    check(readers_before)
    invitation, _, _ = services.issue_invitation(couple.__class__.objects.get(pk=couple.pk), alice)
    services.accept_invitation(dana, invitation.pk)
    now = Membership.objects.active().get(user=alice).couple  # a fresh space, for a new pairing
    for author in (alice, dana):
        write(now, author, "both:sealed", SEALED)
    write(now, dana, "dana-only:sealed", SEALED)
    return readers_before, [alice, bob, charlie, dana], first


def by_orm(entries, user):
    """The rule as ``visible_to`` wrote it before ``Readable``: three ``Exists``."""
    no_session = Value(0)
    reader_answered = Entry.objects.annotate(in_session=Coalesce("session_id", no_session)).filter(
        author=user,
        couple=OuterRef("couple"),
        prompt_key=OuterRef("prompt_key"),
        in_session=Coalesce(OuterRef("session_id"), no_session),
    )
    current = Membership.objects.filter(couple=OuterRef("couple"), left_at__isnull=True)
    return entries.annotate(
        reader_answered=Exists(reader_answered),
        author_is_member=Exists(current.filter(user=OuterRef("author"))),
        reader_is_member=Exists(current.filter(user=user)),
    ).filter(
        Q(author=user)
        | Q(visibility=Visibility.SHARED)
        | Q(
            visibility=Visibility.SEALED,
            reader_answered=True,
            author_is_member=True,
            reader_is_member=True,
        )
    )


def by_sql(entries, user):
    return entries.visible_to(user)


def readable(rule, reader) -> set[int]:
    return set(rule(Entry.objects.all(), reader).values_list("pk", flat=True))


def sessions_with_readable(rule, reader) -> set[int]:
    inner = rule(Entry.objects.filter(session=OuterRef("pk")), reader)
    return set(Session.objects.filter(Exists(inner)).values_list("pk", flat=True))


def test_the_sql_rule_opens_what_the_orm_rule_does_for_every_reader(db):
    opened = []

    def check(readers) -> None:
        for reader in readers:
            sql_opens, orm_opens = readable(by_sql, reader), readable(by_orm, reader)
            assert sql_opens == orm_opens, reader.display_name
            opened.append(len(sql_opens))
            assert sessions_with_readable(by_sql, reader) == sessions_with_readable(by_orm, reader)

    before, readers, _ = populated_space(check)
    check(readers)
    assert len(opened) == 12 and all(opened[:2])
    # Sealed answers really do open and close: Alice reads none of Bob's now he has left.
    alice = readers[0]
    sealed_open = Entry.objects.visible_to(alice).filter(visibility=SEALED).exclude(author=alice)
    assert not sealed_open.filter(author__display_name="Bob").exists()
    assert set(sealed_open.values_list("prompt_key", flat=True)) == {"both:sealed"}
    assert before  # the readers existed before the change of partner


def test_the_sql_rule_keeps_to_what_a_query_already_chose(db):
    """Composed with other filters and joins, as the pages use it."""
    _, readers, session = populated_space()
    alice = readers[0]
    for build in (
        lambda rule: rule(Entry.objects.filter(session=session), alice),
        lambda rule: rule(Entry.objects.all(), alice).select_related("author", "session"),
        lambda rule: rule(Entry.objects.filter(prompt_key__endswith=":sealed"), alice),
    ):
        sql_opens = set(build(by_sql).values_list("pk", flat=True))
        assert sql_opens == set(build(by_orm).values_list("pk", flat=True))
        assert sql_opens
