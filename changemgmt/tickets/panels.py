"""The tickets app's dashboard panel: the CAB queue and the viewer's drafts."""

from changemgmt import clock, roles

from . import rules
from .models import ChangeTicket, State

QUEUE_SHOWN = 5


def dashboard_panel(request):
    if not roles.is_human_reader(request.user):
        return None
    from .cab_views import CAB_TARGET, business_age, cab_queue

    now = clock.now()
    queue = cab_queue()
    oldest = []
    for ticket in queue[:QUEUE_SHOWN]:
        age = business_age(ticket.submitted_at or ticket.created_at, now)
        oldest.append(
            {
                "ticket": ticket,
                "missing_seats": rules.quorum_missing_seats(ticket),
                "overdue": age > CAB_TARGET,
            }
        )
    drafts = ChangeTicket.objects.filter(author=request.user, state=State.DRAFT).select_related(
        "feature"
    )
    return {
        "queue_count": queue.count(),
        "oldest": oldest,
        "drafts": list(drafts.order_by("-updated_at")[:10]),
        "is_author": roles.has_role(request.user, roles.AUTHOR),
    }
