"""`/calendar.ics`: the change calendar as an iCalendar feed a calendar app can subscribe to.

Calendar apps cannot log in, so besides the session the feed takes an API token, in the
`Authorization: Token …` header or as `?token=` in the subscription URL.
"""

from datetime import UTC, timedelta

from django.http import HttpResponse
from icalendar import Calendar, Event
from rest_framework.authtoken.models import Token

from changemgmt import clock, roles

from .calendar import events_between

FEED_PAST = timedelta(days=31)
FEED_AHEAD = timedelta(days=183)


def _feed_user(request):
    if request.user.is_authenticated:
        return request.user
    header = request.META.get("HTTP_AUTHORIZATION", "")
    key = ""
    if header.startswith("Token "):
        key = header[len("Token ") :].strip()
    key = key or request.GET.get("token", "").strip()
    if not key or len(key) > 64:
        return None
    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return None
    return token.user


def ical_feed(request):
    user = _feed_user(request)
    if user is None:
        response = HttpResponse("Sign in, or pass an API token.", status=401)
        response["WWW-Authenticate"] = "Token"
        return response
    if not roles.is_human_reader(user):
        return HttpResponse("This account may not read the change calendar.", status=403)
    now = clock.now()
    cal = Calendar()
    cal.add("prodid", "-//changemgmt//change calendar//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "Change calendar")
    for item in events_between(now - FEED_PAST, now + FEED_AHEAD):
        event = Event()
        event.add("uid", item["uid"])
        event.add("summary", item["title"])
        event.add("dtstart", item["start"].astimezone(UTC))
        event.add("dtend", item["end"].astimezone(UTC))
        event.add("dtstamp", now.astimezone(UTC))
        event.add("categories", [item["kind"]])
        if item.get("description"):
            event.add("description", item["description"])
        if item.get("url"):
            event.add("url", request.build_absolute_uri(item["url"]))
        cal.add_component(event)
    response = HttpResponse(cal.to_ical(), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="changemgmt.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response
