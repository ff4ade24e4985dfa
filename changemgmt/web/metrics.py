"""`/metrics`: the app's own state in Prometheus text format, for the on-call's dashboards.

Multiprocess-safe by construction: nothing is counted in a web process. A custom collector reads
the state from the database (and the broker) at scrape time, so every gunicorn worker answers the
same numbers; the sweeper's tick duration and errors happen in Celery workers, so they are counted
in the shared cache (Redis in production) by `record_tick`, not in process memory.
"""

import ipaddress
import os

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.db.models import Count, Max, Min
from django.http import HttpResponse
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from changemgmt import clock
from changemgmt.audit.models import AuditHead
from changemgmt.killswitches.freshness import freshness_of
from changemgmt.killswitches.models import (
    FeatureSwitch,
    Gateway,
    ModelSwitch,
    PolicyVersion,
    TenantSwitch,
)
from changemgmt.rollouts.models import Breach, Ramp, RampStage
from changemgmt.rollouts.tick_stats import TICK_KEY
from changemgmt.tickets.models import ACTIVE_RAMP_STATES, ChangeTicket, State

METRICS_GROUP = "metrics"
FRESHNESS_CODE = {"green": 0, "amber": 1, "stale": 2}


def _gauge(name, doc, labels=()):
    return GaugeMetricFamily(f"changemgmt_{name}", doc, labels=list(labels))


class StateCollector:
    def collect(self):
        now = clock.now()
        yield from self._ramps()
        yield from self._policy(now)
        yield from self._switches(now)
        yield from self._cab(now)
        yield from self._audit(now)
        yield from self._sweeper()
        yield from self._celery()

    def _ramps(self):
        by_state = _gauge("tickets", "Change tickets by state.", ["state"])
        counts = dict(ChangeTicket.objects.values_list("state").annotate(n=Count("pk")))
        for state in State.values:
            by_state.add_metric([state], counts.get(state, 0))
        yield by_state
        traffic = _gauge(
            "ramp_traffic_percent",
            "Traffic % of each active ramp's current stage.",
            ["change_id", "feature", "state"],
        )
        stages = {}
        for ramp in Ramp.objects.filter(
            ticket__state__in=ACTIVE_RAMP_STATES, current_index__gte=0
        ).select_related("ticket__feature"):
            stages[(ramp.ticket_id, ramp.current_index)] = ramp.ticket
        for stage in RampStage.objects.filter(ticket_id__in={t for t, _ in stages}):
            ticket = stages.get((stage.ticket_id, stage.index))
            if ticket is not None:
                traffic.add_metric(
                    [ticket.change_id, ticket.feature.slug, ticket.state], stage.percent
                )
        yield traffic
        breaches = CounterMetricFamily(
            "changemgmt_breaches", "Guard breaches recorded.", labels=["severe"]
        )
        by_severity = dict(Breach.objects.values_list("severe").annotate(n=Count("pk")))
        for severe in (False, True):
            breaches.add_metric([str(severe).lower()], by_severity.get(severe, 0))
        yield breaches
        open_breaches = _gauge("breaches_unacknowledged", "Breaches not yet acknowledged.")
        open_breaches.add_metric([], Breach.objects.filter(acknowledged_at=None).count())
        yield open_breaches

    def _policy(self, now):
        current = PolicyVersion.objects.filter(pk=1).values_list("current", flat=True).first() or 0
        version = _gauge("policy_version", "Current gateway policy version.")
        version.add_metric([], current)
        yield version
        applied = _gauge(
            "gateway_applied_version", "Policy version each gateway acked.", ["gateway"]
        )
        lag = _gauge("gateway_lag_versions", "Versions a gateway is behind.", ["gateway"])
        age = _gauge("gateway_ack_age_seconds", "Seconds since a gateway's last ack.", ["gateway"])
        for gateway in Gateway.objects.all():
            applied.add_metric([gateway.gateway_id], gateway.acked_version)
            lag.add_metric([gateway.gateway_id], max(0, current - gateway.acked_version))
            if gateway.acked_at:
                age.add_metric([gateway.gateway_id], (now - gateway.acked_at).total_seconds())
        yield from (applied, lag, age)

    def _switches(self, now):
        engaged = _gauge("killswitch_engaged", "1 when the AI is off.", ["layer", "key"])
        fresh = _gauge(
            "killswitch_freshness", "0 green, 1 amber, 2 stale (exercise age).", ["layer", "key"]
        )
        exercised = _gauge(
            "killswitch_last_exercised_timestamp_seconds",
            "When the switch was last exercised.",
            ["layer", "key"],
        )
        for layer, model in (("feature", FeatureSwitch), ("model", ModelSwitch)):
            for switch in model.objects.all():
                labels = [layer, switch.key]
                engaged.add_metric(labels, int(switch.engaged))
                fresh.add_metric(
                    labels, FRESHNESS_CODE[freshness_of(switch.last_exercised_at, now=now)]
                )
                if switch.last_exercised_at:
                    exercised.add_metric(labels, switch.last_exercised_at.timestamp())
        tenants = _gauge("tenant_switches_engaged", "Tenants with the AI off.")
        tenants.add_metric([], TenantSwitch.objects.filter(ai_disabled=True).count())
        yield from (engaged, fresh, exercised, tenants)

    def _cab(self, now):
        queue = ChangeTicket.objects.filter(state=State.SUBMITTED)
        size = _gauge("cab_queue_size", "Tickets waiting for the CAB.")
        oldest = _gauge("cab_queue_oldest_age_seconds", "Age of the oldest submitted ticket.")
        stats = queue.aggregate(n=Count("pk"), oldest=Min("submitted_at"))
        size.add_metric([], stats["n"])
        if stats["oldest"]:
            oldest.add_metric([], (now - stats["oldest"]).total_seconds())
        yield from (size, oldest)

    def _audit(self, now):
        length = _gauge("audit_chain_length", "Records in the hash-chained audit log.")
        length.add_metric([], AuditHead.objects.aggregate(n=Max("seq"))["n"] or 0)
        yield length
        checkpoint = _checkpoint(now)
        if checkpoint is not None:  # absent until the first checkpoint: alert on absent()
            age = _gauge("audit_checkpoint_age_seconds", "Seconds since the last checkpoint.")
            age.add_metric([], checkpoint[0])
            verified = _gauge(
                "audit_checkpoint_verified",
                "1 when the last checkpoint verifies against the chain.",
            )
            verified.add_metric([], int(checkpoint[1]))
            yield from (age, verified)

    def _sweeper(self):
        values = cache.get_many(
            [f"{TICK_KEY}:{k}" for k in ("last_seconds", "last_at", "ticks", "errors")]
        )
        ticks = CounterMetricFamily("changemgmt_sweeper_ticks", "Sweeper ticks run.")
        ticks.add_metric([], values.get(f"{TICK_KEY}:ticks", 0))
        errors = CounterMetricFamily("changemgmt_sweeper_tick_errors", "Sweeper ticks failed.")
        errors.add_metric([], values.get(f"{TICK_KEY}:errors", 0))
        yield from (ticks, errors)
        if f"{TICK_KEY}:last_seconds" in values:
            duration = _gauge("sweeper_last_tick_duration_seconds", "Duration of the last tick.")
            duration.add_metric([], values[f"{TICK_KEY}:last_seconds"])
            at = _gauge("sweeper_last_tick_timestamp_seconds", "When the last tick ended.")
            at.add_metric([], values[f"{TICK_KEY}:last_at"])
            yield from (duration, at)

    def _celery(self):
        length = _gauge("celery_queue_length", "Messages waiting in a Celery queue.", ["queue"])
        known = _celery_queue_length()
        if known is not None:
            length.add_metric(["celery"], known)
        yield length


def _checkpoint(now):
    """(age in seconds, verified) of the newest signed audit checkpoint, or None while none."""
    from datetime import datetime

    from changemgmt.audit.checkpoints import latest_checkpoint

    try:
        checkpoint, verdict = latest_checkpoint()
    except Exception:  # noqa: BLE001 - no key configured, unreadable sink: absent, not a 500
        return None
    if checkpoint is None:
        return None
    made = datetime.fromisoformat(checkpoint.time)
    return (now - made).total_seconds(), verdict == "verified"


def _celery_queue_length():
    if settings.REDIS_URL:
        try:
            import redis

            client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=0.5)
            return client.llen("celery")
        except Exception:  # noqa: BLE001 - unknown while the broker is down
            return None
    folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("data_folder_in")
    if folder:
        try:
            return len(os.listdir(folder))
        except OSError:
            return None
    return None


def _client_ip_allowed(request) -> bool:
    # REMOTE_ADDR only: a forwarded header is whatever the client says it is.
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    for allowed in settings.METRICS_ALLOWED_IPS:
        try:
            if address in ipaddress.ip_network(allowed, strict=False):
                return True
        except ValueError:
            continue
    return False


def _metrics_token_user(request):
    from rest_framework.authtoken.models import Token

    scheme, _, key = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() not in ("bearer", "token") or not key.strip():
        return None
    token = Token.objects.select_related("user").filter(key=key.strip()).first()
    if token is None or not token.user.is_active:
        return None
    return token.user if token.user.groups.filter(name=METRICS_GROUP).exists() else None


def may_read_metrics(request) -> bool:
    return _client_ip_allowed(request) or _metrics_token_user(request) is not None


@login_not_required
def metrics_view(request):
    if not may_read_metrics(request):
        return HttpResponse(
            "Forbidden: /metrics is read with a metrics account's token "
            "(Authorization: Bearer <token>) or from METRICS_ALLOWED_IPS.\n",
            status=403,
            content_type="text/plain",
        )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector())
    return HttpResponse(
        generate_latest(registry), content_type="text/plain; version=0.0.4; charset=utf-8"
    )
