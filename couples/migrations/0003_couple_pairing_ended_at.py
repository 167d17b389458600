from django.db import migrations, models
from django.db.models import Max, Q


def mark_ended_pairings(apps, schema_editor):
    """Spaces whose pairing already ended, as far as the rows still tell.

    A partner who left has a membership row with ``left_at``. A partner who
    deleted their account left none, but their invitations (sent or
    accepted) lost their user: an accepted invitation without ``accepted_by``
    or any invitation without ``invited_by`` means someone of this space is gone.
    """
    Couple = apps.get_model("couples", "Couple")
    Invitation = apps.get_model("couples", "Invitation")
    open_spaces = Couple.objects.filter(archived_at__isnull=True, pairing_ended_at__isnull=True)
    for couple in open_spaces.annotate(last_left=Max("memberships__left_at")).filter(
        last_left__isnull=False
    ):
        couple.pairing_ended_at = couple.last_left
        couple.save(update_fields=["pairing_ended_at"])
    orphaned = Invitation.objects.filter(
        Q(accepted_at__isnull=False, accepted_by__isnull=True) | Q(invited_by__isnull=True)
    ).values("couple_id")
    for couple in open_spaces.filter(pk__in=orphaned):
        couple.pairing_ended_at = couple.created_at
        couple.save(update_fields=["pairing_ended_at"])


class Migration(migrations.Migration):
    dependencies = [("couples", "0002_couple_calendar_version")]

    operations = [
        migrations.AddField(
            model_name="couple",
            name="pairing_ended_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(mark_ended_pairings, migrations.RunPython.noop),
    ]
