"""How one changed value reads in the audit log and a ticket's timeline: short values whole, a
long one (a YAML document, a signature, a hash) as a one-line summary with the full value a click
away, so a row stays a row and the Why column stays on screen."""

import json
from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html

register = template.Library()

SHORT = 60  # characters shown inline
# Bookkeeping a person does not read in a diff: the record keeps it, the page folds it away.
BOOKKEEPING_FIELDS = {"updated_at", "approved_fingerprint", "content_hash", "prev_hash", "hash"}


def _text(value) -> str:
    if value is None:
        return "∅"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _as_time(text: str) -> str | None:
    """An ISO timestamp as a person reads it, in the page's zone ("Tue 2026-12-01 18:14 EST")."""
    if len(text) < 19 or text[4:5] != "-" or text[10:11] != "T":
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return None
    if at.tzinfo is None:
        return None
    return timezone.localtime(at).strftime("%a %Y-%m-%d %H:%M:%S %Z")


@register.filter
def change_value(value):
    text = _text(value)
    shown_time = _as_time(text) if isinstance(value, str) else None
    if shown_time:
        return format_html('<time datetime="{}">{}</time>', text, shown_time)
    if len(text) <= SHORT and "\n" not in text:
        return text
    first = text.strip().splitlines()[0] if text.strip() else text
    lines = text.count("\n") + 1
    size = f"{lines} lines" if lines > 1 else f"{len(text)} characters"
    return format_html(
        '<details class="audit-long"><summary><span class="font-monospace">{}…</span> '
        '<span class="text-muted">({}, show all)</span></summary><pre class="small mb-0">{}</pre>'
        "</details>",
        first[:SHORT],
        size,
        text,
    )


@register.filter
def readable_changes(changes) -> dict:
    """The fields a person reads as (field, old, new), and the bookkeeping fields' names."""
    changes = changes or {}
    return {
        "shown": [(f, p[0], p[1]) for f, p in changes.items() if f not in BOOKKEEPING_FIELDS],
        "folded": [f for f in changes if f in BOOKKEEPING_FIELDS],
    }


@register.filter
def field_names(changes, limit=4) -> str:
    """ "id, version, yaml_text, json_text, …": what a created record set, at a glance."""
    names = [f for f in (changes or {}) if f not in BOOKKEEPING_FIELDS]
    more = ", …" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more
