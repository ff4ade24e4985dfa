from django import forms
from django.conf import settings
from django.forms import formset_factory

from changemgmt.catalog.models import Segment

from .models import Metric, SampleSource, prometheus_source_problems
from .promql import MAX_LENGTH
from .services import ACKNOWLEDGEMENT_NOTE_MAX

CONTROL_LABELS = {
    "promote": "Promote now",
    "halt": "Halt",
    "resume": "Resume",
    "roll_back": "Roll back",
}


class BootstrapForm(forms.Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field.widget, forms.CheckboxInput):
                field.widget.attrs.setdefault("class", "form-check-input")
            elif not field.widget.is_hidden:
                field.widget.attrs.setdefault("class", "form-control form-control-sm")


def _codes(value: str) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


class StageForm(BootstrapForm):
    """One stage. Audiences are comma-separated, smallest ring first; blank means everyone."""

    percent = forms.IntegerField(min_value=1, max_value=100, required=False)
    bake_minutes = forms.IntegerField(min_value=0, max_value=60 * 24 * 30, required=False)
    tenant_segments = forms.CharField(
        required=False, max_length=200, help_text=" → ".join(Segment.order())
    )
    regions = forms.CharField(required=False, max_length=200)
    cohorts = forms.CharField(required=False, max_length=200)

    def clean_tenant_segments(self):
        segments = _codes(self.cleaned_data["tenant_segments"])
        unknown = [s for s in segments if s not in Segment.values]
        if unknown:
            raise forms.ValidationError(f"Unknown segment {', '.join(unknown)}.")
        return segments

    def clean_regions(self):
        return [code.upper() for code in _codes(self.cleaned_data["regions"])]

    def clean_cohorts(self):
        return _codes(self.cleaned_data["cohorts"])

    def clean(self):
        data = super().clean()
        if data.get("percent") is not None and data.get("bake_minutes") is None:
            data["bake_minutes"] = 0
        return data


StageFormSet = formset_factory(StageForm, extra=2, max_num=12, absolute_max=12)


def source_choices():
    """Prometheus is offered only when PROMETHEUS_URL is set."""
    if settings.PROMETHEUS_URL:
        return SampleSource.choices
    return [(SampleSource.PUSH.value, SampleSource.PUSH.label)]


class GuardForm(BootstrapForm):
    metric = forms.ChoiceField(choices=Metric.choices, widget=forms.HiddenInput)
    threshold = forms.FloatField()
    severe_threshold = forms.FloatField(required=False)
    observe_only = forms.BooleanField(required=False)
    source = forms.ChoiceField(choices=source_choices, required=False)
    query = forms.CharField(
        required=False, max_length=MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean(self):
        data = super().clean()  # Django's FloatField already refuses NaN and infinities
        severe, threshold = data.get("severe_threshold"), data.get("threshold")
        if severe is not None and threshold is not None and severe < threshold:
            self.add_error("severe_threshold", "The severe threshold is below the threshold.")
        data["source"] = data.get("source") or SampleSource.PUSH
        for field, problems in prometheus_source_problems(
            data["source"], data.get("query", "")
        ).items():
            for problem in problems:
                self.add_error(field, problem)
        return data


GuardFormSet = formset_factory(GuardForm, extra=0, max_num=len(Metric.values), absolute_max=8)


def plan_from(formset) -> list[dict]:
    """The filled rows of a valid StageFormSet, in order."""
    return [
        {
            "percent": form.cleaned_data["percent"],
            "bake_minutes": form.cleaned_data.get("bake_minutes") or 0,
            "tenant_segments": form.cleaned_data.get("tenant_segments") or [],
            "regions": form.cleaned_data.get("regions") or [],
            "cohorts": form.cleaned_data.get("cohorts") or [],
        }
        for form in formset
        if form.cleaned_data.get("percent") is not None
    ]


class AcknowledgeForm(forms.Form):
    note = forms.CharField(
        max_length=ACKNOWLEDGEMENT_NOTE_MAX,
        error_messages={"required": "Say what you found: the note is required."},
    )
