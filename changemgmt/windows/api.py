"""Read-only window API for people and CI pipelines: the policy with the next open window, the
calendar's events, and a ticket's bookable slots (booking itself is the `schedule` transition)."""

from datetime import timedelta

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from changemgmt import clock, roles
from changemgmt.api_fields import AwareDateTimeField
from changemgmt.tickets.models import ChangeTicket

from . import policy
from .calendar import events_between

MAX_RANGE = timedelta(days=366)


class CalendarReader(permissions.BasePermission):
    """Any human role reads the calendar; a gateway's machine account reads only its policy."""

    message = "Your role may not read the change calendar."

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return roles.is_human_reader(user) and not roles.has_role(user, roles.GATEWAY)


class IntervalSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class FreezeSerializer(serializers.Serializer):
    name = serializers.CharField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    reason = serializers.CharField()
    scope = serializers.CharField(source="scope_label")


class WindowsSerializer(serializers.Serializer):
    rule = serializers.CharField()
    timezone = serializers.CharField()
    weekdays = serializers.ListField(child=serializers.IntegerField())
    start_time = serializers.CharField(help_text="HH:MM, wall-clock time in `timezone`")
    end_time = serializers.CharField(help_text="HH:MM, wall-clock time in `timezone`")
    window_open_now = serializers.BooleanField()
    next_open_window = IntervalSerializer()
    freezes_in_force = FreezeSerializer(many=True)


class RangeSerializer(serializers.Serializer):
    start = AwareDateTimeField(required=False)
    end = AwareDateTimeField(required=False)

    def validate(self, data):
        now = clock.now()
        for field in ("start", "end"):
            if field in data and not 2000 <= data[field].year <= 2200:
                raise serializers.ValidationError({field: "Pick a year between 2000 and 2200."})
        data.setdefault("start", now)
        data.setdefault("end", data["start"] + timedelta(days=31))
        if data["end"] <= data["start"]:
            raise serializers.ValidationError({"end": "end must be after start."})
        if data["end"] - data["start"] > MAX_RANGE:
            raise serializers.ValidationError({"end": "Ask for at most 366 days at once."})
        return data


class EventSerializer(serializers.Serializer):
    uid = serializers.CharField()
    title = serializers.CharField()
    kind = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    url = serializers.CharField(allow_blank=True)


class SlotsQuerySerializer(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=92, default=21)


class SlotsSerializer(serializers.Serializer):
    change_id = serializers.CharField()
    emergency = serializers.BooleanField()
    slots = IntervalSerializer(many=True)


class WindowsView(APIView):
    permission_classes = [CalendarReader]

    @extend_schema(responses=WindowsSerializer, summary="The window policy and the next window")
    def get(self, request):
        active = policy.current_policy()
        now = clock.now()
        window = policy.next_open_window(now, active)
        body = {
            "rule": active.describe(),
            "timezone": active.timezone,
            "weekdays": active.weekdays,
            "start_time": active.start_time.strftime("%H:%M"),
            "end_time": active.end_time.strftime("%H:%M"),
            "window_open_now": window.contains(now),
            "next_open_window": {"start": window.start, "end": window.end},
            "freezes_in_force": policy.freezes_covering(None, now),
        }
        return Response(WindowsSerializer(body).data)


class CalendarEventsView(APIView):
    permission_classes = [CalendarReader]

    @extend_schema(
        parameters=[RangeSerializer],
        responses=EventSerializer(many=True),
        summary="Windows, freezes, booked changes and game days in a range",
    )
    def get(self, request):
        query = RangeSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        events = events_between(query.validated_data["start"], query.validated_data["end"])
        return Response(EventSerializer(events, many=True).data)


class ChangeSlotsView(APIView):
    permission_classes = [CalendarReader]

    @extend_schema(
        parameters=[SlotsQuerySerializer],
        responses=SlotsSerializer,
        summary="A ticket's bookable slots (windows minus freezes and conflicts)",
    )
    def get(self, request, change_id):
        query = SlotsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        ticket = get_object_or_404(
            ChangeTicket.objects.select_related("feature"), change_id=change_id
        )
        slots = policy.open_slots(ticket, clock.now(), query.validated_data["days"])
        body = {
            "change_id": ticket.change_id,
            "emergency": policy.is_emergency(ticket),
            "slots": [{"start": s.start, "end": s.end} for s in slots],
        }
        return Response(SlotsSerializer(body).data)
