import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q

from changemgmt import roles
from changemgmt.catalog.models import AIFeature, RiskTier

from .models import ChangeTicket, Classification, State


class TicketFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Change ID or title")
    state = django_filters.ChoiceFilter(choices=State.choices, empty_label="Any state")
    risk_tier = django_filters.ChoiceFilter(
        choices=RiskTier.choices, label="Tier", empty_label="Any tier"
    )
    feature = django_filters.ModelChoiceFilter(
        queryset=AIFeature.objects.order_by("slug"), empty_label="Any feature"
    )
    classification = django_filters.ChoiceFilter(
        choices=Classification.choices, empty_label="Any classification"
    )
    author = django_filters.ModelChoiceFilter(
        # Members of the author group: a DISTINCT over every ticket's author grows with the table.
        queryset=get_user_model().objects.filter(groups__name=roles.AUTHOR).order_by("username"),
        empty_label="Any author",
    )
    emergency = django_filters.BooleanFilter(
        label="Emergency",
        widget=forms.Select(choices=[("", "Either"), ("true", "Emergency"), ("false", "Standard")]),
    )
    # The column headers' sort links (templates/tickets/list.html); `tier_rank` and
    # `stage_percent` are annotations of the list view's queryset.
    o = django_filters.OrderingFilter(
        fields=(
            ("change_id", "change_id"),
            ("title", "title"),
            ("feature__slug", "feature"),
            ("tier_rank", "tier"),
            ("state", "state"),
            ("planned_start", "planned_start"),
            ("stage_percent", "stage"),
            ("author__username", "author"),
            ("release_manager__username", "release_manager"),
            ("created_at", "created"),
        ),
        label="Sort by",
    )

    class Meta:
        model = ChangeTicket
        fields = [
            "q",
            "state",
            "risk_tier",
            "feature",
            "classification",
            "author",
            "emergency",
            "o",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.form.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs["class"] = f"{css} form-select-sm form-control-sm"

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(change_id__icontains=value) | Q(title__icontains=value))
