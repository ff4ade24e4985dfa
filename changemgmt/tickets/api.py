"""The change-ticket API (`/api/v1/changes/…`, DESIGN.md "Interfaces").

Views are thin: fetch with the access check, validate the input, call the same service the web
pages call, answer. Refusals map to 403 (role), 409 (state or guard, the body names the guard) and
400 (field messages) in changemgmt.web.api_errors.
"""

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import generics, permissions, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from changemgmt import roles
from changemgmt.audit.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent
from changemgmt.catalog.models import RiskTier

from . import rules, services
from .models import State
from .serializers import (
    ChangeListSerializer,
    ChangeSerializer,
    CloseSerializer,
    DetailSerializer,
    ReasonSerializer,
    RefusalSerializer,
    ScheduleSerializer,
    VoteAnswerSerializer,
    VoteInputSerializer,
    change_queryset,
)
from .transition_table import TABLE, TRANSITIONS

CHANGE_ID = OpenApiParameter(
    "change_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="e.g. CHG-2026-04891"
)
BAD_INPUT = OpenApiResponse(OpenApiTypes.OBJECT, description="Field -> list of messages.")
FORBIDDEN = OpenApiResponse(DetailSerializer, description="Your role may not do this.")
NOT_FOUND = OpenApiResponse(DetailSerializer, description="No such change.")
REFUSED = OpenApiResponse(
    RefusalSerializer, description="The ticket's state or a named guard refuses."
)


class ChangesAccess(permissions.BasePermission):
    """Changes are read by people; a gateway's machine account reads the policy, nothing else,
    and an auditor reads everything and changes nothing."""

    message = "Your role may not read change tickets."

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if roles.has_role(user, roles.GATEWAY) or not roles.is_human_reader(user):
            return False
        if request.method not in permissions.SAFE_METHODS and roles.has_role(user, roles.AUDITOR):
            self.message = "An auditor reads everything and changes nothing."
            return False
        return True


class ChangeFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=State.choices)
    feature = django_filters.CharFilter(field_name="feature__slug")
    tier = django_filters.ChoiceFilter(field_name="risk_tier", choices=RiskTier.choices)


def _ticket(change_id):
    return get_object_or_404(change_queryset(), change_id=change_id)


def _answer(ticket, request, status_code=status.HTTP_200_OK):
    ticket = _ticket(ticket.change_id)  # fresh from the database, with its eval rows
    return Response(ChangeSerializer(ticket, context={"request": request}).data, status=status_code)


@extend_schema_view(
    get=extend_schema(
        tags=["changes"],
        summary="List change tickets (filter by state, feature slug, tier)",
        responses={200: ChangeListSerializer(many=True), 400: BAD_INPUT, 403: FORBIDDEN},
    ),
    post=extend_schema(
        tags=["changes"],
        summary="File a draft change ticket",
        request=ChangeSerializer,
        responses={201: ChangeSerializer, 400: BAD_INPUT, 403: FORBIDDEN},
    ),
)
class ChangeListCreate(generics.ListCreateAPIView):
    permission_classes = [ChangesAccess]
    filterset_class = ChangeFilter

    def get_queryset(self):
        return change_queryset().prefetch_related("eval_deltas")

    def get_serializer_class(self):
        return ChangeListSerializer if self.request.method == "GET" else ChangeSerializer

    def create(self, request, *args, **kwargs):
        # The role is checked before the input, so a role that may not file learns that first.
        if not roles.has_role(request.user, roles.AUTHOR):
            raise PermissionDenied("Only an author may file a change ticket.")
        serializer = ChangeSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        eval_deltas = data.pop("eval_deltas", [])
        ticket = services.ticket_create(
            acting_user=request.user, data=data, eval_deltas=eval_deltas, reason="filed (API)"
        )
        return _answer(ticket, request, status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(
        tags=["changes"],
        summary="Read a change ticket",
        parameters=[CHANGE_ID],
        responses={200: ChangeSerializer, 403: FORBIDDEN, 404: NOT_FOUND},
    ),
    patch=extend_schema(
        tags=["changes"],
        summary="Edit a draft change ticket (fields are frozen once submitted)",
        parameters=[CHANGE_ID],
        request=ChangeSerializer,
        responses={
            200: ChangeSerializer,
            400: BAD_INPUT,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: REFUSED,
        },
    ),
)
class ChangeDetail(APIView):
    permission_classes = [ChangesAccess]

    def get(self, request, change_id):
        return _answer(_ticket(change_id), request)

    def patch(self, request, change_id):
        ticket = _ticket(change_id)
        # Role and freeze first: a frozen ticket answers 409 whatever the body says.
        services.ticket_check_editable(ticket, acting_user=request.user)
        serializer = ChangeSerializer(
            ticket, data=request.data, partial=True, context={"request": request}
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        eval_deltas = data.pop("eval_deltas", None)
        services.ticket_update(
            ticket,
            acting_user=request.user,
            data=data,
            eval_deltas=eval_deltas,
            reason="edited (API)",
        )
        return _answer(ticket, request)


class TransitionView(APIView):
    """POST /api/v1/changes/{change_id}/{transition}/ — one subclass per transition."""

    permission_classes = [ChangesAccess]
    transition = ""
    input_serializer = ReasonSerializer

    @idempotent
    def post(self, request, change_id):
        ticket = _ticket(change_id)
        serializer = self.input_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        reason = data.pop("reason", "")
        if self.transition in ("request_changes", "reject") and reason.strip():
            # A CAB seat's refusal is a vote: record it (the service takes the transition).
            services.vote_cast(
                ticket, acting_user=request.user, decision=self.transition, comment=reason
            )
            return _answer(ticket, request)
        if self.transition == "schedule":  # one booking path with the pages
            services.ticket_schedule(
                ticket,
                acting_user=request.user,
                reason=reason,
                planned_start=data["planned_start"],
            )
            return _answer(ticket, request)
        params = {}
        if self.transition == "close":
            if "notes" in data:
                params["review_notes"] = data["notes"]
            if "metrics_held" in data:
                params["metrics_held"] = data["metrics_held"]
        services.ticket_transition(
            ticket, self.transition, acting_user=request.user, reason=reason, **params
        )
        return _answer(ticket, request)


# Every transition has its route; its summary is the table's.
API_TRANSITIONS = TRANSITIONS
TRANSITION_SUMMARIES = {t.name: t.summary for t in TABLE}


def transition_view(name: str):
    serializer = {"schedule": ScheduleSerializer, "close": CloseSerializer}.get(
        name, ReasonSerializer
    )
    camel = "".join(part.title() for part in name.split("_"))
    view = type(
        f"{camel}TransitionView",
        (TransitionView,),
        {"transition": name, "input_serializer": serializer},
    )
    schema = extend_schema(
        tags=["changes"],
        operation_id=f"changes_{name}",
        summary=TRANSITION_SUMMARIES[name],
        parameters=[CHANGE_ID, IDEMPOTENCY_KEY_PARAMETER],
        request=serializer,
        responses={
            200: ChangeSerializer,
            400: BAD_INPUT,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: REFUSED,
        },
    )
    return extend_schema_view(post=schema)(view)


@extend_schema(
    tags=["changes"],
    summary="Cast a CAB vote (approve, request_changes or reject) with the checklist",
    parameters=[CHANGE_ID],
    request=VoteInputSerializer,
    responses={
        201: VoteAnswerSerializer,
        400: BAD_INPUT,
        403: FORBIDDEN,
        404: NOT_FOUND,
        409: REFUSED,
    },
)
class VoteCreate(APIView):
    permission_classes = [ChangesAccess]

    def post(self, request, change_id):
        ticket = _ticket(change_id)
        serializer = VoteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        vote = services.vote_cast(
            ticket,
            acting_user=request.user,
            decision=data["decision"],
            comment=data.get("comment", ""),
            checklist=dict(data.get("checklist") or {}),
            seat=data.get("seat"),
        )
        ticket.refresh_from_db()
        answer = VoteAnswerSerializer(
            {
                "vote": vote,
                "change_id": ticket.change_id,
                "state": ticket.state,
                "retrospective_due": ticket.retrospective_due,
                "still_needs": rules.still_needed_seats(ticket),
            }
        )
        return Response(answer.data, status=status.HTTP_201_CREATED)
