from django.apps import AppConfig


class ReportingConfig(AppConfig):
    """The process numbers (change failure rate, lead time, time to restore, emergency changes,
    kill-switch freshness): they read tickets, the audit record and killswitches, so they live
    above all three instead of in the audit floor."""

    name = "changemgmt.reporting"
    label = "reporting"
    verbose_name = "Reporting"
