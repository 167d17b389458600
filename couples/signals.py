"""What other apps hear when a couple changes, so ``couples`` needn't import them.

Receivers run inside the transaction that made the change: a failure in one
undoes the change, and nothing half-done is left behind.
"""

from __future__ import annotations

from django.dispatch import Signal

# A member left the space (by leaving, by joining another space, or by
# deleting their account). Arguments: couple_id, user_id, at.
member_left = Signal()

# The space closed for good: no active member remains, or a new pairing
# replaced it with a fresh space. Arguments: couple_id, at.
space_archived = Signal()
