from datetime import datetime

from django import forms
from django.utils import timezone

from . import policy


class ScheduleForm(forms.Form):
    """A slot from the picker (`slot`, an ISO instant) or a free local time in the policy zone."""

    slot = forms.DateTimeField(required=False, input_formats=["iso-8601"])
    planned_start_local = forms.DateTimeField(
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        label="Planned start",
    )

    def clean(self):
        data = super().clean()
        slot, free = data.get("slot"), data.get("planned_start_local")
        if self.errors:
            return data
        if slot is None and free is None:
            raise forms.ValidationError("Pick a slot or enter a planned start.")
        data["planned_start"] = slot if slot is not None else self._in_policy_zone(free)
        return data

    @staticmethod
    def _in_policy_zone(value: datetime) -> datetime:
        # The free input is a wall-clock time in the policy's zone (the picker labels it so).
        naive = timezone.make_naive(value) if timezone.is_aware(value) else value
        zone = policy.current_policy().zone
        return naive.replace(tzinfo=zone)
