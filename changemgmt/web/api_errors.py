"""API error shape: 400 with field messages, 403 for a role that may not, 409 for a transition
the state or a guard refuses (the body names the guard). Never a 500 for any input."""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from changemgmt.refusals import TicketFrozen, TransitionRefused, VoteRefused


def exception_handler(exc, context):
    if isinstance(exc, TransitionRefused):
        return Response(
            {
                "detail": exc.message,
                "transition": exc.transition,
                "guard": exc.guard,
                "reasons": [{"guard": g, "reason": r} for g, r in exc.reasons],
            },
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, TicketFrozen):
        return Response(
            {"detail": str(exc), "guard": exc.guard},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, VoteRefused):
        field = exc.field or "non_field_errors"
        return Response({field: [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoValidationError):
        exc = ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if isinstance(exc, PermissionDenied) and exc.args:
        return Response({"detail": str(exc.args[0])}, status=status.HTTP_403_FORBIDDEN)
    return drf_exception_handler(exc, context)
