"""The ramp plan and breaches over the API (issue 11 item 9), for pipelines that never open a page.

`GET/PUT /api/v1/changes/{change_id}/plan/`: the stages and guards. A PUT goes through the web plan
form's own formsets and then `ramp_plan_update`, so the API keeps exactly the page's rules (ring
order, the cap, the tier's guard floor, the freeze at submission); this module only checks the
JSON's types and turns it into the forms' input.
`POST /api/v1/changes/{change_id}/breaches/{id}/acknowledge/` with a required note: what an
API-only pipeline needs before it may `resume`.
"""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from changemgmt.api_fields import StrictBooleanField, StrictIntegerField
from changemgmt.tickets import rules
from changemgmt.tickets.api import BAD_INPUT, CHANGE_ID, FORBIDDEN, NOT_FOUND, ChangesAccess
from changemgmt.tickets.models import ChangeTicket
from changemgmt.tickets.serializers import RefusalSerializer, StrictFloatField

from . import services
from .forms import GuardFormSet, StageFormSet, plan_from
from .models import Breach, Metric, SampleSource

FROZEN = OpenApiResponse(
    RefusalSerializer,
    description="The plan is frozen once submitted (guard plan_frozen_after_submission).",
)


def _no_comma(value):
    if "," in value:
        raise serializers.ValidationError("One code per item (no commas).")


def _codes(help_text):
    return serializers.ListField(
        child=serializers.CharField(max_length=40, validators=[_no_comma]),
        max_length=20,
        required=False,
        help_text=help_text,
    )


class RampStageSerializer(serializers.Serializer):
    percent = StrictIntegerField(help_text="1–100, growing; only the last stage may pass the cap.")
    bake_minutes = StrictIntegerField(
        required=False, help_text="How long the stage bakes (a canary stage needs one)."
    )
    tenant_segments = _codes("internal → design_partner → self_service → enterprise; [] = all.")
    regions = _codes("Region codes in ring order (e.g. AU, CA → EU → US); [] = all.")
    cohorts = _codes("Cohort codes; [] = all.")
    entered_at = serializers.DateTimeField(read_only=True, allow_null=True)
    completed_at = serializers.DateTimeField(read_only=True, allow_null=True)


class RampGuardSerializer(serializers.Serializer):
    metric = serializers.ChoiceField(choices=Metric.choices)
    threshold = StrictFloatField(help_text="Above this value the ramp halts.")
    severe_threshold = StrictFloatField(
        allow_null=True, required=False, help_text="Above this the ramp rolls back (null: never)."
    )
    observe_only = StrictBooleanField(required=False)
    source = serializers.ChoiceField(choices=SampleSource.choices, required=False)
    query = serializers.CharField(
        allow_blank=True, required=False, trim_whitespace=False, help_text="PromQL (prometheus)."
    )


class RampPlanSerializer(serializers.Serializer):
    change_id = serializers.CharField(read_only=True)
    frozen = serializers.BooleanField(
        read_only=True, help_text="Submitted or later: the plan no longer changes."
    )
    stages = RampStageSerializer(many=True, max_length=StageFormSet.absolute_max)
    guards = RampGuardSerializer(
        many=True,
        required=False,
        max_length=GuardFormSet.absolute_max,
        help_text="Guards you leave out keep their values.",
    )
    reason = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=500
    )

    def validate_guards(self, rows):
        metrics = [row["metric"] for row in rows]
        twice = sorted({m for m in metrics if metrics.count(m) > 1})
        if twice:
            raise serializers.ValidationError(f"{', '.join(twice)} listed twice.")
        return rows


class BreachSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    stage_percent = serializers.IntegerField(source="stage.percent", read_only=True)
    metric = serializers.CharField(read_only=True)
    value = serializers.FloatField(read_only=True)
    threshold = serializers.FloatField(read_only=True)
    severe = serializers.BooleanField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    observed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    received_at = serializers.DateTimeField(read_only=True, allow_null=True)
    acknowledged_by = serializers.CharField(
        source="acknowledged_by.username", read_only=True, allow_null=True
    )
    acknowledged_at = serializers.DateTimeField(read_only=True, allow_null=True)
    note = serializers.CharField(source="acknowledgement_note", read_only=True)


class AcknowledgeSerializer(serializers.Serializer):
    note = serializers.CharField(
        max_length=services.ACKNOWLEDGEMENT_NOTE_MAX,
        help_text="What you found and why resuming is safe (shown in the ticket's timeline).",
    )


def detail_sections():
    """The ticket answer's read-only sections (tickets.serializers.register_detail_section)."""
    return {
        "ramp_plan": lambda: RampStageSerializer(source="ramp_stages", many=True, read_only=True),
        "guards": lambda: RampGuardSerializer(many=True, read_only=True),
        "breaches": lambda: BreachSerializer(many=True, read_only=True),
    }


def _ticket(change_id) -> ChangeTicket:
    return get_object_or_404(ChangeTicket.objects.select_related("feature"), change_id=change_id)


def _plan_answer(ticket) -> dict:
    return RampPlanSerializer(
        {
            "change_id": ticket.change_id,
            "frozen": ticket.state not in services.PLAN_EDITABLE_STATES,
            "stages": ticket.ramp_stages.order_by("index"),
            "guards": ticket.guards.order_by("metric"),
        }
    ).data


def _form_data(prefix: str, rows: list[dict]) -> dict:
    """JSON rows as the page's formset would post them (every row counted as a filled one)."""
    data = {f"{prefix}-TOTAL_FORMS": str(len(rows)), f"{prefix}-INITIAL_FORMS": str(len(rows))}
    for i, row in enumerate(rows):
        for key, value in row.items():
            if isinstance(value, list):
                value = ", ".join(value)
            data[f"{prefix}-{i}-{key}"] = "" if value is None else value
    return data


def _formset_errors(formset):
    if formset.non_form_errors():
        return list(formset.non_form_errors())
    # Keyed by the row's index, as DRF answers a list of objects.
    return {
        str(i): {("non_field_errors" if k == "__all__" else k): list(v) for k, v in errs.items()}
        for i, errs in enumerate(formset.errors)
        if errs
    }


class ChangePlan(APIView):
    permission_classes = [ChangesAccess]

    @extend_schema(
        tags=["changes"],
        summary="Read a ticket's ramp plan (stages) and guards",
        parameters=[CHANGE_ID],
        responses={200: RampPlanSerializer, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def get(self, request, change_id):
        return Response(_plan_answer(_ticket(change_id)))

    @extend_schema(
        tags=["changes"],
        summary="Replace a draft's ramp plan and guards (the plan page's rules; author only)",
        parameters=[CHANGE_ID],
        request=RampPlanSerializer,
        responses={
            200: RampPlanSerializer,
            400: BAD_INPUT,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: FROZEN,
        },
    )
    def put(self, request, change_id):
        ticket = _ticket(change_id)
        # Role and freeze first: a frozen plan answers 409 whatever the body says.
        services.ramp_plan_check_editable(ticket, acting_user=request.user)
        serializer = RampPlanSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        stages = StageFormSet(_form_data("stage", data["stages"]), prefix="stage")
        guards = GuardFormSet(_form_data("guard", data.get("guards", [])), prefix="guard")
        errors = {}
        if not stages.is_valid():
            errors["stages"] = _formset_errors(stages)
        if not guards.is_valid():
            errors["guards"] = _formset_errors(guards)
        if errors:
            raise ValidationError(errors)
        try:
            services.ramp_plan_update(
                ticket,
                acting_user=request.user,
                plan=plan_from(stages),
                guards=[form.cleaned_data for form in guards],
                reason=data.get("reason", "").strip() or "ramp plan edited (API)",
            )
        except DjangoValidationError as error:
            raise ValidationError(
                {("stages" if k == "plan" else k): v for k, v in error.message_dict.items()}
            ) from error
        return Response(_plan_answer(ticket))


BREACH_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Breach")


class BreachAcknowledge(APIView):
    permission_classes = [ChangesAccess]

    @extend_schema(
        tags=["changes"],
        summary="Acknowledge a breach with a note (release manager); then `resume` may run",
        parameters=[CHANGE_ID, BREACH_ID],
        request=AcknowledgeSerializer,
        responses={200: BreachSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def post(self, request, change_id, id):
        ticket = _ticket(change_id)
        if not rules.may_release(ticket, request.user):  # the role first, as the page does
            raise PermissionDenied("Only a release manager may acknowledge a breach.")
        breach = get_object_or_404(Breach.objects.select_related("stage"), pk=id, ticket=ticket)
        serializer = AcknowledgeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        breach = services.breach_acknowledge(
            breach, acting_user=request.user, note=serializer.validated_data["note"]
        )
        return Response(BreachSerializer(breach).data)
