import csv
import json

from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from changemgmt.pagination import CappedCountPaginator

from .access import require_audit_reader
from .checkpoints import freshness
from .filters import AuditRecordFilter
from .models import Action, AuditRecord

PAGE_SIZE = 50
EXPORT_CHUNK = 2000
CSV_COLUMNS = [
    ("seq", "seq"),
    ("created_at", "when (UTC)"),
    ("object_model", "object type"),
    ("object_id", "object id"),
    ("object_repr", "object"),
    ("action", "action"),
    ("actor_username", "user"),
    ("reason", "why"),
    ("changes", "changes"),
    ("ticket_id", "ticket id"),
    ("hash", "hash"),
]
ACTION_LABELS = dict(Action.choices)


def _filtered(request):
    return AuditRecordFilter(request.GET or None, queryset=AuditRecord.objects.order_by("-seq"))


@require_GET
def audit_log(request):
    require_audit_reader(request.user)
    filterset = _filtered(request)
    valid = filterset.is_bound is False or filterset.is_valid()
    records = filterset.qs if valid else AuditRecord.objects.none()
    page = CappedCountPaginator(records, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "filter": filterset,
        "page": page,
        "query": query.urlencode(),
        "action_labels": ACTION_LABELS,
        "checkpoints": freshness(),
    }
    return render(request, "audit/log.html", context, status=200 if valid else 400)


class _Echo:
    def write(self, value):
        return value


def _cell(value):
    """Text for a CSV cell; a leading = + - @ is neutralised so a spreadsheet never runs it."""
    if value is None:
        return ""
    if not isinstance(value, str):
        value = value.isoformat() if hasattr(value, "isoformat") else str(value)
    if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _csv_rows(queryset):
    writer = csv.writer(_Echo())
    yield writer.writerow([label for _, label in CSV_COLUMNS])
    names = [name for name, _ in CSV_COLUMNS]
    # values_list + iterator: rows stream from a cursor in chunks, never held all at once.
    for row in queryset.values_list(*names).iterator(chunk_size=EXPORT_CHUNK):
        record = dict(zip(names, row, strict=True))
        record["action"] = ACTION_LABELS.get(record["action"], record["action"])
        record["changes"] = json.dumps(record["changes"], sort_keys=True, ensure_ascii=False)
        yield writer.writerow([_cell(record[name]) for name in names])


@require_GET
def audit_export(request):
    require_audit_reader(request.user)
    filterset = _filtered(request)
    if filterset.is_bound and not filterset.is_valid():
        errors = "\n".join(
            f"{field}: {' '.join(messages)}" for field, messages in filterset.errors.items()
        )
        return HttpResponse(errors, status=400, content_type="text/plain; charset=utf-8")
    response = StreamingHttpResponse(
        _csv_rows(filterset.qs.order_by("seq")), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
    return response
