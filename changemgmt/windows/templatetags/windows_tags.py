from datetime import UTC

from django import template
from django.utils.dateformat import format as date_format

register = template.Library()


@register.filter
def in_zone(value, zone):
    """`{{ at|in_zone:zone }}` -> '10:00', the wall time in that zone."""
    return date_format(value.astimezone(zone), "H:i")


@register.filter
def in_zone_long(value, zone):
    return date_format(value.astimezone(zone), "D Y-m-d H:i T")


@register.filter
def utc_label(value):
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@register.filter
def split(value):
    return value.split()
