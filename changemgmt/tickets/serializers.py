"""The ticket as the API speaks it (DESIGN.md, "API shapes").

One serializer reads and writes the documented shape: blast radius, artifacts and the release
window are nested objects on the wire and flat fields on the model (nested serializers with
`source="*"`). Input is checked here for types and sizes; the service checks it again (the web
form and the API share one set of rules) and owns every state and permission rule.
"""

from django.contrib.auth import get_user_model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from changemgmt import roles
from changemgmt.api_fields import AwareDateTimeField, StrictBooleanField, StrictIntegerField
from changemgmt.catalog.models import AIFeature, RiskTier

from . import filing, rules
from .models import (
    CHECKLIST_ITEMS,
    MAX_EVAL_ROWS,
    TRANSITIONS,
    ChangeTicket,
    Classification,
    Decision,
    Vote,
)

TEXT_MAX = 5000
BIG_INT_MAX = 9_223_372_036_854_775_807

# Read-only sections a higher app adds to a ticket's answer (rollouts: the ramp plan, guards and
# breaches); tickets never imports them. name -> a function making the (read-only) field.
DETAIL_SECTIONS: dict = {}


def register_detail_section(name: str, make_field) -> None:
    DETAIL_SECTIONS[name] = make_field


class StrictFloatField(serializers.FloatField):
    """A number: true/false are not numbers, and NaN/Infinity are refused (DRF does that)."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class EvalDeltaSerializer(serializers.Serializer):
    metric = serializers.CharField(max_length=80)
    baseline = StrictFloatField()
    candidate = StrictFloatField()
    higher_is_better = StrictBooleanField(default=True)
    delta = serializers.FloatField(read_only=True)


class BlastRadiusSerializer(serializers.Serializer):
    users_affected = StrictIntegerField(min_value=0, max_value=BIG_INT_MAX, required=False)
    regions = serializers.ListField(
        child=serializers.CharField(max_length=8), max_length=100, required=False
    )
    max_traffic_percent = StrictIntegerField(min_value=1, max_value=100, required=False)


class ArtifactsSerializer(serializers.Serializer):
    pr_url = serializers.URLField(max_length=500, allow_blank=True, required=False)
    prompt_version = serializers.CharField(max_length=120, allow_blank=True, required=False)
    candidate_model = serializers.CharField(max_length=120, allow_blank=True, required=False)
    model_card_url = serializers.URLField(max_length=500, allow_blank=True, required=False)
    risk_review_ticket = serializers.CharField(max_length=60, allow_blank=True, required=False)


class ReleaseWindowSerializer(serializers.Serializer):
    planned_start = AwareDateTimeField(allow_null=True, required=False)
    slot_ends_at = serializers.DateTimeField(read_only=True, allow_null=True)
    bridge_url = serializers.URLField(max_length=500, allow_blank=True, required=False)
    bridge = serializers.ListField(
        child=serializers.CharField(max_length=150),
        max_length=100,
        required=False,
        help_text="Usernames on the bridge.",
    )
    paging_list = serializers.ListField(
        child=serializers.CharField(max_length=254),
        max_length=100,
        required=False,
        help_text="Email addresses paged for the release.",
    )

    def validate_bridge(self, usernames):
        return _checked(usernames, filing.bridge_problem)

    def validate_paging_list(self, addresses):
        return _checked(addresses, filing.paging_problem)


def _checked(items, problem_of):
    problem = problem_of(items)  # filing's own check, which runs again on save
    if problem:
        raise serializers.ValidationError(problem)
    return items


class ChangeSerializer(serializers.Serializer):
    """A change ticket: what POST/PATCH take, and (with the read-only fields) what GET answers."""

    # Keys of the answer a client may send back unchanged (GET, edit, PATCH): ignored on input.
    ECHOED = {
        "change_id",
        "state",
        "author",
        "created_at",
        "updated_at",
        "submitted_at",
        "approved_at",
        "standard_change",
        "retrospective_due",
        "cab_round",
        "allowed_transitions",
        "last_reason",
        "review_notes",
        "metrics_held",
    }

    change_id = serializers.CharField(read_only=True)
    state = serializers.CharField(read_only=True)
    author = serializers.CharField(source="author.username", read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    submitted_at = serializers.DateTimeField(read_only=True, allow_null=True)
    approved_at = serializers.DateTimeField(read_only=True, allow_null=True)
    standard_change = serializers.BooleanField(read_only=True)
    retrospective_due = serializers.BooleanField(read_only=True)
    cab_round = serializers.IntegerField(read_only=True)
    last_reason = serializers.CharField(read_only=True)
    review_notes = serializers.CharField(read_only=True)
    metrics_held = serializers.BooleanField(read_only=True, allow_null=True)

    title = serializers.CharField(max_length=200)
    summary = serializers.CharField(max_length=TEXT_MAX)
    feature = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=AIFeature.objects.all(),
        error_messages={"does_not_exist": "Unknown feature '{value}'."},
    )
    classification = serializers.ChoiceField(choices=Classification.choices)
    risk_tier = serializers.ChoiceField(
        choices=RiskTier.choices,
        required=False,
        help_text="Inherited from the feature when omitted; may be raised, never lowered.",
    )
    release_manager = serializers.SlugRelatedField(
        slug_field="username",
        queryset=get_user_model().objects.filter(groups__name=roles.RELEASE_MANAGER),
        allow_null=True,
        required=False,
        error_messages={"does_not_exist": "'{value}' is not a release manager."},
    )
    eval_deltas = EvalDeltaSerializer(many=True, required=False, max_length=MAX_EVAL_ROWS)
    rollback_plan = serializers.CharField(max_length=TEXT_MAX, allow_blank=True, required=False)
    kill_switch = serializers.CharField(
        max_length=200,
        allow_blank=True,
        required=False,
        help_text="feature:<slug>, model:<id> or tenant:<id>",
    )
    blast_radius = BlastRadiusSerializer(source="*", required=False)
    artifacts = ArtifactsSerializer(source="*", required=False)
    release_window = ReleaseWindowSerializer(source="*", required=False)
    emergency = StrictBooleanField(required=False)
    emergency_justification = serializers.CharField(
        max_length=TEXT_MAX, allow_blank=True, required=False
    )
    eval_regression_justification = serializers.CharField(
        max_length=TEXT_MAX, allow_blank=True, required=False
    )
    allowed_transitions = serializers.SerializerMethodField()
    with_sections = True  # the registered sections (the list answer leaves them out)

    def get_fields(self):
        fields = super().get_fields()
        if self.with_sections:
            for name, make_field in DETAIL_SECTIONS.items():
                fields[name] = make_field()
        return fields

    def to_internal_value(self, data):
        if isinstance(data, dict):
            echoed = self.ECHOED | set(DETAIL_SECTIONS)
            unknown = sorted(set(data) - set(self.fields) - echoed)
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
            data = {key: value for key, value in data.items() if key not in echoed}
        return super().to_internal_value(data)

    def validate_eval_deltas(self, rows):
        seen = set()
        for row in rows:
            # A PATCH is partial for the ticket, never for an eval row: each row is whole.
            missing = [key for key in ("metric", "baseline", "candidate") if key not in row]
            if missing:
                raise serializers.ValidationError(
                    "Each row needs metric, baseline and candidate; missing: "
                    + ", ".join(missing)
                    + "."
                )
            if row["metric"] in seen:
                raise serializers.ValidationError(f"{row['metric']} is listed twice.")
            seen.add(row["metric"])
        return rows

    def validate_kill_switch(self, path):
        if not path:
            return path
        if rules.parse_kill_switch(path) is None:
            raise serializers.ValidationError(
                "Use feature:<slug>, model:<id> or tenant:<id> (layers: feature, model, tenant)."
            )
        if not rules.kill_switch_exists(path):
            raise serializers.ValidationError(f"Kill switch {path} does not exist.")
        if missing := rules.kill_switch_missing(path):
            raise serializers.ValidationError(missing)
        return path

    @extend_schema_field(
        serializers.ListField(child=serializers.ChoiceField(choices=list(TRANSITIONS)))
    )
    def get_allowed_transitions(self, ticket) -> list[str]:
        from .services import available_transitions

        request = self.context.get("request")
        if request is None or not self.context.get("with_transitions", True):
            return []
        return available_transitions(ticket, request.user)


class ChangeListSerializer(ChangeSerializer):
    """The list answer: the ticket without `allowed_transitions` and the registered sections
    (queries per ticket)."""

    allowed_transitions = None
    with_sections = False


# ----- transitions -----


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=TEXT_MAX, allow_blank=True, required=False)


class ScheduleSerializer(ReasonSerializer):
    planned_start = AwareDateTimeField()


class CloseSerializer(ReasonSerializer):
    notes = serializers.CharField(
        max_length=10000,
        allow_blank=True,
        required=False,
        help_text="Post-deploy (or post-incident) review notes.",
    )
    metrics_held = StrictBooleanField(required=False, allow_null=True)


# ----- CAB -----


class ChecklistSerializer(serializers.Serializer):
    ticket_complete = StrictBooleanField(default=False)
    rollback_plan_real = StrictBooleanField(default=False)
    kill_switch_current = StrictBooleanField(default=False)
    window_appropriate = StrictBooleanField(default=False)
    blast_radius_sized = StrictBooleanField(default=False)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(CHECKLIST_ITEMS))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown item."] for name in unknown})
        return super().to_internal_value(data)


class VoteInputSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=Decision.choices)
    comment = serializers.CharField(max_length=TEXT_MAX, allow_blank=True, required=False)
    checklist = ChecklistSerializer(required=False)
    seat = serializers.ChoiceField(
        choices=list(roles.CAB_SEATS),
        required=False,
        help_text="Which of your CAB seats you vote for (default: one the quorum still needs).",
    )


class VoteSerializer(serializers.ModelSerializer):
    voter = serializers.CharField(source="voter.username", read_only=True)

    class Meta:
        model = Vote
        fields = [
            "id",
            "voter",
            "seat",
            "decision",
            "comment",
            "checklist",
            "round",
            "retrospective",
            "created_at",
        ]
        read_only_fields = fields


class VoteAnswerSerializer(serializers.Serializer):
    vote = VoteSerializer()
    change_id = serializers.CharField()
    state = serializers.CharField()
    retrospective_due = serializers.BooleanField()
    still_needs = serializers.ListField(
        child=serializers.CharField(),
        help_text="The CAB seats whose approval this review (or retrospective review) still needs.",
    )


# ----- error bodies (for the schema) -----


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class RefusalReasonSerializer(serializers.Serializer):
    guard = serializers.CharField()
    reason = serializers.CharField()


class RefusalSerializer(serializers.Serializer):
    detail = serializers.CharField()
    transition = serializers.CharField(required=False)
    guard = serializers.CharField(help_text="The rule that refused, e.g. ticket_is_complete.")
    reasons = RefusalReasonSerializer(many=True, required=False)


FieldErrors = OpenApiTypes.OBJECT


def change_queryset():
    return ChangeTicket.objects.select_related("feature", "author", "release_manager")
