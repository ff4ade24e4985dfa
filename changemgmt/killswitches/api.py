"""Kill-switch flips and gateway acks over the API (DESIGN.md "Interfaces")."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from changemgmt import roles
from changemgmt.api_fields import StrictBooleanField, StrictIntegerField
from changemgmt.audit.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent

from . import services
from .models import LAYERS


class FlipSerializer(serializers.Serializer):
    engaged = StrictBooleanField(help_text="True: the AI is off (the switch engaged).")
    reason = serializers.CharField(max_length=500, allow_blank=False, trim_whitespace=True)
    expires = serializers.DateField(required=False, allow_null=True)


class FlipResultSerializer(serializers.Serializer):
    switch = serializers.CharField()
    engaged = serializers.BooleanField()
    changed = serializers.BooleanField()
    version = serializers.IntegerField()
    detail = serializers.CharField()


class AckSerializer(serializers.Serializer):
    gateway = serializers.CharField(max_length=120)
    version = StrictIntegerField(min_value=0)


class FlipView(APIView):
    @extend_schema(
        request=FlipSerializer,
        responses={200: FlipResultSerializer},
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
    )
    @idempotent
    def post(self, request, layer, key):
        if layer not in LAYERS:
            raise Http404(f"Unknown layer '{layer}'.")
        # A tenant with no switch yet: its owners engage it here, and the flip creates it.
        switch = services.find_or_new_switch(f"{layer}:{key}")
        if switch is None:
            raise Http404(f"No kill switch {layer}:{key}.")
        if not services.may_flip(request.user, switch):
            # Checked again inside the service's transaction; here so a role that may not flip
            # learns that before anything about its input.
            return Response(
                {"detail": services.flip_permission_reason(switch)},
                status=status.HTTP_403_FORBIDDEN,
            )
        form = FlipSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            result = services.killswitch_flip(
                layer,
                key,
                engaged=form.validated_data["engaged"],
                reason=form.validated_data["reason"],
                expires=form.validated_data.get("expires"),
                acting_user=request.user,
            )
        except services.UnknownSwitch as exc:
            raise Http404(str(exc)) from exc
        return Response(
            {
                "switch": result.switch.path,
                "engaged": result.switch.engaged,
                "changed": result.changed,
                "version": result.version,
                "detail": result.message,
            }
        )


class AckView(APIView):
    @extend_schema(
        request=AckSerializer,
        responses={200: AckSerializer},
        description="Report the policy version this gateway applied. The account must be bound "
        "to the gateway name by an admin (admin → Gateways); any other name is refused with 403.",
    )
    def post(self, request):
        if not roles.has_role(request.user, roles.GATEWAY):
            return Response(
                {"detail": "Only a gateway account may ack the policy."},
                status=status.HTTP_403_FORBIDDEN,
            )
        form = AckSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            gateway = services.gateway_ack(
                gateway_id=form.validated_data["gateway"],
                version=form.validated_data["version"],
                acting_user=request.user,
            )
        except PermissionDenied as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_403_FORBIDDEN)
        return Response({"gateway": gateway.gateway_id, "version": gateway.acked_version})
