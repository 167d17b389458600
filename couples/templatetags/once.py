"""``{% once_field %}``: the hidden key that makes a create form act once (``couples.once``)."""

from __future__ import annotations

from django import template
from django.utils.html import format_html

from couples import once

register = template.Library()


@register.simple_tag(takes_context=True)
def once_field(context) -> str:
    request = context.get("request")
    # A form shown again with its errors keeps the key it was posted with.
    key = (once.posted_key(request) if request is not None else "") or once.new_key()
    return format_html('<input type="hidden" name="{}" value="{}">', once.FIELD, key)
