"""POST /api/v1/changes/{change_id}/metrics/ — observability posts canary health samples.

Who may post: only `observability` machine accounts (a group of that name; API token). Health data
drives promotion, so a person (even a release manager) may not invent it. One object or a list;
all or nothing.
"""

import math

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from changemgmt import clock, roles
from changemgmt.api_fields import AwareDateTimeField
from changemgmt.tickets.models import ChangeTicket

from . import services
from .models import Metric

OBSERVABILITY = roles.OBSERVABILITY
MAX_SAMPLES_PER_POST = 1000


class SamplePoster(permissions.BasePermission):
    message = services.SAMPLE_POSTERS_ONLY

    def has_permission(self, request, view):
        return roles.has_role(request.user, OBSERVABILITY)


class FiniteFloatField(serializers.FloatField):
    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            raise ValidationError("Must be a finite number.")
        return value


class SampleSerializer(serializers.Serializer):
    metric = serializers.ChoiceField(choices=Metric.choices)
    value = FiniteFloatField()
    observed_at = AwareDateTimeField()
    idempotency_key = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        help_text="Optional: identifies the sample instead of (metric, observed_at); a repeat "
        "with the same key changes nothing.",
    )

    def validate_observed_at(self, value):
        if value > clock.now():
            raise ValidationError("The observation time is in the future.")
        return value


class SamplesAccepted(serializers.Serializer):
    change_id = serializers.CharField()
    accepted = serializers.IntegerField(help_text="New samples stored.")
    duplicates = serializers.IntegerField(
        help_text="Samples already on record (same metric, observed_at and source, or the same "
        "idempotency key): ignored, nothing changed."
    )
    detail = serializers.CharField()


class MetricsCreate(APIView):
    permission_classes = [SamplePoster]

    @extend_schema(
        summary="Post canary health samples (one object or a list)",
        request=PolymorphicProxySerializer(
            component_name="Samples",
            serializers=[
                SampleSerializer,
                SampleSerializer(many=True, max_length=MAX_SAMPLES_PER_POST),
            ],
            resource_type_field_name=None,
            many=False,
        ),
        responses={
            201: SamplesAccepted,
            200: OpenApiResponse(SamplesAccepted, description="Every sample was a repeat."),
            400: OpenApiResponse(description="Field messages; nothing was saved."),
            403: OpenApiResponse(description="Your role may not post samples."),
        },
    )
    def post(self, request, change_id):
        ticket = get_object_or_404(ChangeTicket, change_id=change_id)
        many = isinstance(request.data, list)
        if many and not request.data:
            raise ValidationError({"non_field_errors": ["Send at least one sample."]})
        if many and len(request.data) > MAX_SAMPLES_PER_POST:
            raise ValidationError(
                {"non_field_errors": [f"At most {MAX_SAMPLES_PER_POST} samples per post."]}
            )
        serializer = SampleSerializer(data=request.data, many=many)
        serializer.is_valid(raise_exception=True)
        rows = serializer.validated_data if many else [serializer.validated_data]
        try:
            recorded = services.samples_record(ticket, acting_user=request.user, samples=rows)
        except services.SampleRefused as refused:
            raise ValidationError(refused.errors) from refused
        except PermissionDenied as denied:
            raise exceptions.PermissionDenied(str(denied)) from denied
        accepted, duplicates = len(recorded.stored), recorded.duplicates
        detail = f"{accepted} stored."
        if duplicates:
            detail = (
                f"{accepted} stored; {duplicates} already on record, ignored (nothing changed)."
            )
        return Response(
            {
                "change_id": ticket.change_id,
                "accepted": accepted,
                "duplicates": duplicates,
                "detail": detail,
            },
            status=status.HTTP_201_CREATED if accepted else status.HTTP_200_OK,
        )
