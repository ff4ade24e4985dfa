import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, TextField
from django.db.models.functions import Cast

from .chain import history_models
from .models import AuditRecord, Notification


def object_type_choices():
    return [
        (m.instance_type._meta.label_lower, m.instance_type._meta.verbose_name.capitalize())
        for m in history_models()
    ]


class AuditFilterForm(forms.Form):
    def clean_ticket(self):
        value = (self.cleaned_data.get("ticket") or "").strip()
        if not value:
            return value
        if value.isdigit():
            return int(value)
        # The ticket model through the notification's foreign key: audit sits below tickets and
        # never imports it.
        tickets = Notification._meta.get_field("ticket").related_model
        found = tickets.objects.filter(change_id__iexact=value).values_list("pk", flat=True).first()
        if found is None:
            raise ValidationError(
                f"No change ticket {value} (a change ID looks like CHG-2026-00004)."
            )
        return found


class AuditRecordFilter(django_filters.FilterSet):
    object_type = django_filters.ChoiceFilter(
        field_name="object_model", choices=[], label="Object type"
    )
    object = django_filters.CharFilter(method="filter_object", label="Object (id or name)")
    user = django_filters.CharFilter(
        field_name="actor_username", lookup_expr="iexact", label="User"
    )
    date_from = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__gte", label="From"
    )
    date_to = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__lte", label="To"
    )
    q = django_filters.CharFilter(method="filter_text", label="Text")
    # People know a change by its change ID (CHG-2026-00004); the internal id still works.
    ticket = django_filters.CharFilter(method="filter_ticket", label="Change ID")
    o = django_filters.OrderingFilter(
        fields=(
            ("seq", "seq"),
            ("created_at", "when"),
            ("actor_username", "who"),
            ("object_model", "what"),
        ),
        label="Sort by",
    )

    class Meta:
        model = AuditRecord
        fields = []
        form = AuditFilterForm

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A fresh filter per request: the class-level one may have built (and cached) its form
        # field already, e.g. for the OpenAPI schema, so editing its choices would not stick.
        self.filters["object_type"] = django_filters.ChoiceFilter(
            field_name="object_model", choices=object_type_choices(), label="Object type"
        )
        self.filters["object_type"].parent = self
        self.filters["object_type"].model = self._meta.model

    def filter_ticket(self, queryset, name, value):
        return queryset.filter(ticket_id=value)  # the form resolved the change ID to the pk

    def filter_object(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(object_id=value) | Q(object_repr__icontains=value))

    def filter_text(self, queryset, name, value):
        value = value.strip()
        return queryset.annotate(changes_text=Cast("changes", TextField())).filter(
            Q(reason__icontains=value)
            | Q(object_repr__icontains=value)
            | Q(actor_username__icontains=value)
            | Q(changes_text__icontains=value)
        )
