"""The dashboard's invitation panel: what it shows, and what the session keeps for it.

The session keeps which invitation it may show or return to (its id and its
token's hash), never the link or the code: both are rebuilt from the
invitation when needed (``Invitation.current_secrets``). The panel is drawn
by the dashboard (``home``) and redrawn alone by the invitation views here.
"""

from __future__ import annotations

from django.http import HttpRequest

from couples.forms import InviteForm
from couples.models import Invitation, format_code

FRESH_KEY = "fresh_invitation"
PENDING_KEY = "pending_invitation"


def marker(invitation: Invitation) -> dict:
    return {"id": invitation.pk, "token_hash": invitation.token_hash}


def _marks(request: HttpRequest, key: str, invitation: Invitation) -> bool:
    """The session holds ``key`` for this invitation's current link and code."""
    return request.session.get(key) == marker(invitation)


def fresh_secrets(request: HttpRequest, invitation: Invitation | None) -> dict | None:
    """The link and code of the open invitation, for the device that made them."""
    if invitation is None or not _marks(request, FRESH_KEY, invitation):
        return None
    secrets = invitation.current_secrets()
    if secrets is None:
        return None
    token, code = secrets
    return {"url": Invitation.accept_url(token), "code": format_code(code)}


def remember_secrets(request: HttpRequest, invitation: Invitation) -> None:
    request.session[FRESH_KEY] = marker(invitation)


def pending_invitation_path(request: HttpRequest) -> str | None:
    """Where a visitor who opened an invitation link returns after signing up or
    logging in, as long as that link still works."""
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None
    invitation = Invitation.objects.filter(
        pk=pending.get("id"), token_hash=pending.get("token_hash")
    ).first()
    secrets = invitation.current_secrets() if invitation else None
    return Invitation.accept_path(secrets[0]) if secrets else None


def context(request: HttpRequest, form: InviteForm | None = None) -> dict:
    """What the panel shows the member of a seated request (``couple_required``):
    the open invitation, its link and code on the device that made them."""
    invitation = None
    if request.partner is None:
        invitation = request.couple.invitations.pending().order_by("-created_at").first()
    return {
        "couple": request.couple,
        "partner": request.partner,
        "invitation": invitation,
        "secrets": fresh_secrets(request, invitation),
        "invite_form": form or InviteForm(user=request.user),
    }
