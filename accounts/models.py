from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from config import timezones


def zone_named(name: str) -> ZoneInfo:
    """The zone of that IANA name; UTC for a name this machine doesn't know."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def validate_time_zone(value: str) -> None:
    # The list offers canonical names; a zone stored before it was trimmed
    # (an alias such as US/Pacific) is still a valid one to have.
    if value not in settings.TIME_ZONES and value not in timezones.legacy_names():
        raise ValidationError("Choose a time zone from the list, such as Europe/Berlin.")


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in with an email address; no usernames."""

    email = models.EmailField("email address", unique=True)
    display_name = models.CharField(
        "name",
        max_length=60,
        help_text="What your partner sees, e.g. your first name.",
    )
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text="Times are shown and reminders sent in this time zone.",
    )
    reminders_enabled = models.BooleanField(
        "email nudges",
        default=True,
        help_text="Emails before each ritual. Turn off to get none, from any ritual.",
    )
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["display_name"]

    def __str__(self) -> str:
        return self.display_name or self.email

    def get_short_name(self) -> str:
        return self.display_name or self.email.split("@")[0]

    def get_full_name(self) -> str:
        return self.get_short_name()

    @property
    def zone(self) -> ZoneInfo:
        return zone_named(self.time_zone)
