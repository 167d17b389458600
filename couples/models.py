from __future__ import annotations

import hashlib
import hmac
import secrets
from base64 import urlsafe_b64encode
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone

from config import regions

INVITATION_LIFETIME = timedelta(days=7)
# Crockford's base32 without the look-alikes (0/O, 1/I/L) so a code read
# aloud or typed from a phone survives.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 8


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def signing_keys() -> list[str]:
    """SECRET_KEY first, then the old keys still accepted while it is rotated."""
    return [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]


def _mac(key: str, purpose: str, value: str) -> bytes:
    return hmac.new(key.encode(), f"tend.invitation.{purpose}:{value}".encode(), "sha256").digest()


def derive_secrets(seed: str, key: str) -> tuple[str, str]:
    """The link token and the code an invitation's seed stands for under ``key``.

    Nothing stored alone gives them away: the seed is useless without the
    key, and the key never leaves the settings.
    """
    token = urlsafe_b64encode(_mac(key, "token", seed)).rstrip(b"=").decode()
    number = int.from_bytes(_mac(key, "code", seed))
    code = ""
    for _ in range(CODE_LENGTH):
        # 256 bits reduced to 8 letters of 30: the bias is far below 2^-200.
        number, digit = divmod(number, len(CODE_ALPHABET))
        code += CODE_ALPHABET[digit]
    return token, code


def code_digest(code: str, key: str) -> str:
    """What is stored of a code: keyed, because 30^8 codes are few enough to try
    them all against a plain hash read from a copy of the database."""
    return _mac(key, "code-digest", code).hex()


def normalize_code(raw: str) -> str:
    """Uppercase, drop spaces and dashes, map look-alikes to the alphabet."""
    cleaned = "".join(ch for ch in raw.upper() if ch.isalnum())
    return cleaned.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))


def format_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


class Couple(models.Model):
    """The private space two partners share (one member: solo mode)."""

    name = models.CharField(max_length=80, blank=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    created_at = models.DateTimeField(default=timezone.now)
    # Set when the last member leaves or a new pairing replaces this space.
    archived_at = models.DateTimeField(null=True, blank=True)
    # Bumped to make the old calendar feed address stop working.
    calendar_version = models.PositiveIntegerField(default=1)
    # Set when one of two partners leaves or deletes their account. The one
    # who stays keeps the space, but it holds that pairing's history: a new
    # partner starts with them in a fresh space. A fact of its own, because
    # deleting an account removes the membership rows it could be read from.
    pairing_ended_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name or f"Space {self.pk}"

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        # Its name and zone are on every cached region of the space (config.regions).
        regions.changed(self.pk, regions.SPACE)

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @property
    def held_another_pairing(self) -> bool:
        """A partner has left this space: nobody new may join it as it is."""
        return self.pairing_ended_at is not None


class MembershipQuerySet(models.QuerySet["Membership"]):
    def active(self) -> MembershipQuerySet:
        return self.filter(left_at__isnull=True)


class Membership(models.Model):
    """A user's place in a couple. Seats 1 and 2 make "two at most" a database rule."""

    couple = models.ForeignKey(Couple, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    seat = models.PositiveSmallIntegerField()
    joined_at = models.DateTimeField(default=timezone.now)
    left_at = models.DateTimeField(null=True, blank=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(seat__in=[1, 2]), name="membership_seat_1_or_2"),
            models.UniqueConstraint(
                fields=["couple", "seat"],
                condition=Q(left_at__isnull=True),
                name="two_active_members_per_couple",
            ),
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(left_at__isnull=True),
                name="one_active_couple_per_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.couple}"

    # Who is in the space is on every cached region of it (config.regions):
    # joining and leaving save a membership; deleting an account deletes it.
    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        regions.changed(self.couple_id, regions.SPACE)

    def delete(self, *args, **kwargs):
        deleted = super().delete(*args, **kwargs)
        regions.changed(self.couple_id, regions.SPACE)
        return deleted

    @property
    def is_active(self) -> bool:
        return self.left_at is None


class InvitationQuerySet(models.QuerySet["Invitation"]):
    def pending(self) -> InvitationQuerySet:
        return self.filter(
            accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )


class Invitation(models.Model):
    """An offer to join a couple.

    The link token and the code are not stored: they are derived from a random
    ``seed`` and SECRET_KEY (``derive_secrets``), so the email task and the
    dashboard can rebuild them from the invitation's id alone, and only their
    hashes are kept for looking them up.
    """

    class Problem(models.TextChoices):
        UNKNOWN = "unknown", "We don't know this invitation."
        EXPIRED = "expired", "This invitation has expired."
        USED = "used", "This invitation has already been used."
        REVOKED = "revoked", "This invitation was withdrawn."
        OWN = "own", "This is your own invitation."
        ALREADY_PAIRED = "already_paired", "You already share a space with a partner."
        FULL = "full", "This space already has two partners."
        TOGETHER = "together", "You are already in this space together."

    couple = models.ForeignKey(Couple, on_delete=models.CASCADE, related_name="invitations")
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="invitations_sent",
    )
    email = models.EmailField(blank=True)
    # Random per issue; with SECRET_KEY it gives the token and code. Blank on
    # invitations issued before secrets were derived (theirs can't be rebuilt).
    seed = models.CharField(max_length=32, blank=True, db_default="")
    # The invite form's key (couples.once): one invitation, one email, per form.
    request_key = models.CharField(max_length=32, blank=True, db_default="", editable=False)
    token_hash = models.CharField(max_length=64, unique=True)
    code_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_sent_at = models.DateTimeField(null=True, blank=True)
    send_count = models.PositiveSmallIntegerField(default=0)
    # The email is an outbox of its own: while it is owed, this says when it may
    # next be queued (couples.tasks). A lost broker message, or a broker that
    # was down when the invitation was made, costs a minute, not the email.
    email_due_at = models.DateTimeField(null=True, blank=True)
    email_attempts = models.PositiveSmallIntegerField(default=0, db_default=0)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["couple", "-created_at"]),
            models.Index(
                fields=["email_due_at"],
                condition=Q(email_due_at__isnull=False),
                name="invitation_email_owed",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["couple", "request_key"],
                condition=~Q(request_key=""),
                name="one_invitation_per_invite_form",
            ),
        ]

    def __str__(self) -> str:
        return f"Invitation to {self.couple} ({self.email or 'link'})"

    @classmethod
    def issue(
        cls, couple: Couple, invited_by, email: str = "", request_key: str = ""
    ) -> tuple[Invitation, str, str]:
        """Create an invitation; return it with its raw token and code (shown once)."""
        invitation = cls(couple=couple, invited_by=invited_by, email=email, request_key=request_key)
        token, code = invitation.set_new_secrets()
        invitation.save()
        return invitation, token, code

    def set_new_secrets(self) -> tuple[str, str]:
        """Give the invitation a fresh link and code; the old ones stop working."""
        self.seed = secrets.token_hex(16)
        token, code = derive_secrets(self.seed, settings.SECRET_KEY)
        self.token_hash = hash_secret(token)
        self.code_hash = code_digest(code, settings.SECRET_KEY)
        self.created_at = timezone.now()
        self.expires_at = self.created_at + INVITATION_LIFETIME
        return token, code

    @property
    def issued_marker(self) -> str:
        """Names this issue of the invitation; a renewal changes it (the renew form carries it)."""
        return self.created_at.isoformat()

    def current_secrets(self) -> tuple[str, str] | None:
        """The link token and code as issued, rebuilt under the key they were
        issued with (SECRET_KEY or a fallback); None if that key is gone."""
        if not self.seed:
            return None
        for key in signing_keys():
            token, code = derive_secrets(self.seed, key)
            if hmac.compare_digest(hash_secret(token), self.token_hash):
                return token, code
        return None

    @classmethod
    def find_by_token(cls, token: str) -> Invitation | None:
        return (
            cls.objects.select_related("couple", "invited_by")
            .filter(token_hash=hash_secret(token))
            .first()
        )

    @classmethod
    def find_by_code(cls, raw_code: str) -> Invitation | None:
        code = normalize_code(raw_code)
        if len(code) != CODE_LENGTH:
            return None
        # Under each accepted key, and as plain hashes for invitations issued
        # before codes were keyed (those last 7 days at most).
        digests = [code_digest(code, key) for key in signing_keys()] + [hash_secret(code)]
        return (
            cls.objects.select_related("couple", "invited_by").filter(code_hash__in=digests).first()
        )

    @property
    def is_expired(self) -> bool:
        return timezone.now() >= self.expires_at

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and not self.is_expired

    def state_problem(self) -> Invitation.Problem | None:
        """What makes this invitation unusable for anyone, if anything."""
        if self.accepted_at is not None:
            return self.Problem.USED
        if self.revoked_at is not None:
            return self.Problem.REVOKED
        if self.is_expired:
            return self.Problem.EXPIRED
        if self.couple.is_archived:
            return self.Problem.REVOKED
        return None

    def revoke(self) -> None:
        if self.revoked_at is None and self.accepted_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])

    @staticmethod
    def accept_path(token: str) -> str:
        return reverse("invitation", args=[token])

    @classmethod
    def accept_url(cls, token: str) -> str:
        return settings.SITE_URL + cls.accept_path(token)


# What of a user the space's cached regions show: "Bob marked it kept", the
# partner's name on a live exercise, times in their zone (config.regions).
SHOWN_USER_FIELDS = frozenset({"display_name", "email", "time_zone"})


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="couples.member_shown")
def member_shown_changed(sender, instance, created: bool, update_fields=None, **kwargs) -> None:
    """A member's profile saved: every region of their space is stale. Logging
    in saves ``last_login`` alone and costs nothing here."""
    if created or (update_fields is not None and not SHOWN_USER_FIELDS & set(update_fields)):
        return
    for couple_id in (
        Membership.objects.active().filter(user=instance).values_list("couple_id", flat=True)
    ):
        regions.changed(couple_id, regions.SPACE)
