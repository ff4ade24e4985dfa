import django_filters
from django.db.models import Count

from .models import GameDay


class GameDayFilter(django_filters.FilterSet):
    """Only the sort of the game-day list (its column headers); `exercise_count` is annotated."""

    o = django_filters.OrderingFilter(
        fields=(
            ("quarter", "quarter"),
            ("scheduled_for", "date"),
            ("status", "status"),
            ("exercise_count", "exercises"),
        )
    )

    class Meta:
        model = GameDay
        fields = []

    @classmethod
    def listing(cls, params):
        queryset = GameDay.objects.annotate(exercise_count=Count("exercises"))
        filterset = cls(params or None, queryset=queryset)
        if filterset.is_bound and filterset.is_valid():
            return filterset.qs.order_by(*filterset.qs.query.order_by, "-scheduled_for")
        return queryset.order_by("-scheduled_for")
