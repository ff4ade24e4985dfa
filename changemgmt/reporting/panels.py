from changemgmt import roles
from changemgmt.audit.access import may_read_audit_log
from changemgmt.audit.checkpoints import freshness

from .metrics import chart_data, process_numbers


def dashboard_panel(request):
    """Change failure rate, lead time, time to restore, emergency changes, switch freshness."""
    if not roles.is_human_reader(request.user):
        return None
    numbers = process_numbers()
    return {
        "numbers": numbers,
        "chart": chart_data(numbers),
        "may_read_audit_log": may_read_audit_log(request.user),
        "checkpoints": freshness(),
    }
