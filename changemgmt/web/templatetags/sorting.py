"""Sortable table headers for the lists people scan (tickets, audit log, game days).

The list's FilterSet has a django-filter `OrderingFilter` named `o`; a header is a link that sets
`o` to its field (ascending), or to `-field` when it is already ascending, keeping every other
filter in the query string and dropping the page number (page 3 of another order means nothing)."""

from django import template
from django.utils.html import format_html

register = template.Library()

ARROWS = {"ascending": "▲", "descending": "▼"}


@register.simple_tag(takes_context=True)
def sort_th(context, label: str, field: str, css: str = ""):
    request = context["request"]
    current = request.GET.get("o", "")
    if current == field:
        state, target = "ascending", f"-{field}"
    elif current == f"-{field}":
        state, target = "descending", field
    else:
        state, target = "none", field
    query = request.GET.copy()
    query.pop("page", None)
    query["o"] = target
    arrow = ARROWS.get(state, "")
    return format_html(
        '<th scope="col" class="{}" aria-sort="{}" data-sort="{}">'
        '<a class="sort-link link-body-emphasis text-decoration-none" href="?{}">{}'
        '<span class="sort-arrow" aria-hidden="true">{}</span></a></th>',
        css,
        state,
        field,
        query.urlencode(),
        label,
        f" {arrow}" if arrow else "",
    )
