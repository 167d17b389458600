"""``{% fragment "name" part… %}…{% endfragment %}``: a region cached per couple version.

See ``couples.fragments``. The region's body is rendered only when the cache
has no copy for this couple version, viewer, path and parts, so whatever it
reads (lazy objects in the context) costs nothing on a hit.
"""

from __future__ import annotations

from django import template

from couples import fragments

register = template.Library()


class FragmentNode(template.Node):
    def __init__(self, nodelist, name, parts):
        self.nodelist = nodelist
        self.name = name
        self.parts = parts

    def render(self, context) -> str:
        request = context.get("request")
        parts = [part.resolve(context) for part in self.parts]
        key = fragments.fragment_key(self.name, request, parts) if request else None
        if key is None:
            return self.nodelist.render(context)
        placeholder = fragments.csrf_placeholder()
        html = fragments.get(key)
        if html is None:
            with context.push(csrf_token=placeholder):
                html = self.nodelist.render(context)
            fragments.put(key, html)
        token = context.get("csrf_token")
        # Rendered (and so escaped) by the templates above: no further escaping.
        return html.replace(placeholder, str(token) if token else "")


@register.tag("fragment")
def do_fragment(parser, token) -> FragmentNode:
    bits = token.split_contents()
    if len(bits) < 2:
        raise template.TemplateSyntaxError("'fragment' needs a name.")
    name = bits[1].strip("\"'")
    parts = [parser.compile_filter(bit) for bit in bits[2:]]
    nodelist = parser.parse(("endfragment",))
    parser.delete_first_token()
    return FragmentNode(nodelist, name, parts)
