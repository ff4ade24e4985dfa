"""Serializer fields that take exactly what the API documents, for every app's serializers.

DRF is lenient by default: "yes", 1 and "on" are booleans, "42" and true are integers, and a time
without an offset is read in the server's zone. Machines that post to a change-management API
should learn of a mistake at once, not have it reinterpreted.
"""

from django.utils import timezone
from rest_framework import serializers


class StrictBooleanField(serializers.BooleanField):
    """JSON true/false only (DRF would also take "yes", 1, "on")."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictIntegerField(serializers.IntegerField):
    """An integer in the JSON, not "42" and not true."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO-8601 instant with its UTC offset. A wall time alone names a different instant in
    every zone: 10:00 on a ticket filed from New York is not 10:00 UTC."""

    default_error_messages = {
        "naive": "Give the time with its UTC offset (e.g. 2027-02-10T10:00:00-05:00 or "
        "2027-02-10T15:00:00Z): a time without one is ambiguous.",
    }

    def enforce_timezone(self, value):
        if timezone.is_naive(value):
            self.fail("naive")
        return super().enforce_timezone(value)
