"""Kill-switch use cases: flip, gateway ack, tenant expiry. One path for the console, the API, the
import command and Celery; each locks its rows, re-checks inside the transaction and writes history
with the acting user and the reason.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from changemgmt import clock, roles
from changemgmt.audit.notify import notify
from changemgmt.audit.recording import loaded_under_lock, save_audited, system_user
from changemgmt.catalog.models import Tenant

from .models import LAYERS, FeatureSwitch, Gateway, GatewayAck, ModelSwitch, TenantSwitch
from .policy import current_version, policy_bump

SWITCH_MODELS = {"feature": FeatureSwitch, "model": ModelSwitch, "tenant": TenantSwitch}
KEY_LOOKUP = {"feature": "feature__slug", "model": "model__model_id", "tenant": "tenant__tenant_id"}
EXPIRY_WARNING = timedelta(days=7)


class UnknownSwitch(Exception):
    pass


def parse_path(path: str) -> tuple[str, str]:
    layer, _, key = (path or "").partition(":")
    if layer not in LAYERS or not key:
        raise UnknownSwitch(f"'{path}' is not a kill-switch path (feature:, model: or tenant:)")
    return layer, key


def switch_queryset(layer: str):
    related = {"feature": ["feature__owner_team"], "model": ["model", "fallback_model"]}
    return SWITCH_MODELS[layer].objects.select_related(*related.get(layer, [layer]))


def find_switch(path: str):
    try:
        layer, key = parse_path(path)
    except UnknownSwitch:
        return None
    return switch_queryset(layer).filter(**{KEY_LOOKUP[layer]: key}).first()


def new_tenant_switch(key: str):
    """An unsaved switch for a catalog tenant that has none yet (a tenant without a row is AI
    on): its owners engage it from the console or the API, and that flip creates it."""
    tenant = Tenant.objects.filter(tenant_id=key, kill_switch__isnull=True).first()
    return TenantSwitch(tenant=tenant) if tenant is not None else None


def find_or_new_switch(path: str):
    """The switch at `path`; for a tenant with no switch yet, an unsaved one to engage."""
    switch = find_switch(path)
    if switch is None and path.startswith("tenant:"):
        return new_tenant_switch(path[len("tenant:") :])
    return switch


def may_flip(user, switch) -> bool:
    """DESIGN.md: feature switches — platform team, or a feature owner in the feature's owner team;
    model switches — platform team; tenant switches — support engineering. No superuser bypass."""
    if user is None or not user.is_authenticated:
        return False
    if switch.layer == "feature":
        if roles.has_role(user, roles.PLATFORM_TEAM):
            return True
        return (
            roles.has_role(user, roles.FEATURE_OWNER)
            and switch.feature.owner_team.members.filter(pk=user.pk).exists()
        )
    if switch.layer == "model":
        return roles.has_role(user, roles.PLATFORM_TEAM)
    return roles.has_role(user, roles.SUPPORT_ENG)


def owner_emails(switch) -> list[str]:
    User = get_user_model()
    if switch.layer == "tenant":
        groups = [roles.SUPPORT_ENG]
    else:
        groups = [roles.PLATFORM_TEAM]
    emails = set(
        User.objects.filter(groups__name__in=groups, is_active=True).values_list("email", flat=True)
    )
    if switch.layer == "feature":
        emails |= set(switch.feature.owner_team.members.values_list("email", flat=True))
    return sorted(e for e in emails if e)


def blast_radius(switch) -> str:
    """The sentence the console's confirmation shows before a flip."""
    if switch.layer == "feature":
        users = f"{switch.feature.users_served:,}"
        return (
            f"turns AI off for {users} users of {switch.feature.slug}; fallback {switch.fallback}"
        )
    if switch.layer == "model":
        return (
            f"stops all new traffic to {switch.model.model_id} across the company; "
            f"routes it to {switch.fallback_model.model_id}"
        )
    return f"turns AI off for every user of tenant {switch.tenant.tenant_id}"


@dataclass
class FlipResult:
    switch: object
    changed: bool
    version: int

    @property
    def message(self) -> str:
        if not self.changed:
            return f"{self.switch.path} is already in that state."
        state = "engaged (AI off)" if self.switch.engaged else "released (AI on)"
        return f"{self.switch.path} {state}; gateway policy v{self.version}."


def flip_permission_reason(switch) -> str:
    return {
        "feature": "Only the platform team or the feature's owner team may flip a feature switch.",
        "model": "Only the platform team may flip a model switch.",
        "tenant": "Only support engineering may flip a tenant switch.",
    }[switch.layer]


@transaction.atomic
def killswitch_flip(
    layer: str,
    key: str,
    *,
    engaged: bool,
    reason: str,
    acting_user,
    expires: date | None = None,
) -> FlipResult:
    """Engage (AI off) or release the switch `layer:key`. Allowed at any time: no window, no
    ticket. Raises UnknownSwitch, PermissionDenied or ValidationError (nothing saved)."""
    if layer not in LAYERS:
        raise UnknownSwitch(f"Unknown layer '{layer}': feature, model or tenant.")
    switch = (
        switch_queryset(layer)
        .select_for_update(of=("self",))
        .filter(**{KEY_LOOKUP[layer]: key})
        .first()
    )
    if switch is None and layer == "tenant" and engaged:
        switch = new_tenant_switch(key)  # saved below, by the flip that engages it
    if switch is None:
        raise UnknownSwitch(f"No kill switch {layer}:{key}.")
    if not may_flip(acting_user, switch):
        raise PermissionDenied(flip_permission_reason(switch))
    reason = (reason or "").strip()
    errors = {}
    if not reason:
        errors["reason"] = "A reason is required to flip a kill switch."
    if expires is not None and layer != "tenant":
        errors["expires"] = "Only tenant switches expire."
    elif expires is not None and expires < policy_today():
        errors["expires"] = "The expiry date is in the past."
    if errors:
        raise ValidationError(errors)
    # A new expiry on an engaged tenant switch is a change; on a release it means nothing.
    new_expiry = engaged and expires is not None and expires != getattr(switch, "expires", None)
    if switch.engaged == bool(engaged) and not new_expiry:
        return FlipResult(switch, changed=False, version=current_version())

    loaded_under_lock(switch)  # as locked above: no read of its previous history row
    switch.set_engaged(bool(engaged))
    if layer == "tenant":
        if engaged:
            switch.reason = reason[:500]
            switch.expires = expires
        else:
            switch.expires = None
        switch.warned_at = None
    verb = "engaged" if engaged else "released"
    creating = switch.pk is None
    try:
        # A savepoint only where the insert may collide (a round trip each way otherwise).
        with transaction.atomic(savepoint=creating):
            save_audited(switch, acting_user=acting_user, reason=f"{verb}: {reason}")
    except IntegrityError:
        if not creating:
            raise
        # Another owner engaged this tenant's new switch at the same moment: theirs stands.
        return FlipResult(find_switch(switch.path), changed=False, version=current_version())
    # The policy counter is every flip's one shared lock, held from the bump to the commit:
    # what can be read before it is.
    recipients, system = owner_emails(switch), system_user()
    version = policy_bump(f"{switch.path} {verb}: {reason}", sections=False)
    notify(
        "killswitch.flipped",
        subject=f"Kill switch {switch.path} {verb}",
        body=f"{acting_user.get_username()} {verb} {switch.path}: {reason}\n"
        f"Gateway policy v{version}.",
        recipients=recipients,
        payload={"switch": switch.path, "engaged": bool(engaged), "version": version},
        system=system,
    )
    return FlipResult(switch, changed=True, version=version)


@transaction.atomic
def gateway_ack(*, gateway_id: str, version: int, acting_user) -> Gateway:
    """Record that `gateway_id` applied policy `version` (≤ the current version). The name must
    be bound to the acting account (admin): one credential cannot ack for another gateway."""
    if not roles.has_role(acting_user, roles.GATEWAY):
        raise PermissionDenied("Only a gateway account may ack the policy.")
    gateway_id = (gateway_id or "").strip()
    errors = {}
    if not gateway_id:
        errors["gateway"] = "The gateway id is required."
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        errors["version"] = "The version must be a non-negative integer."
    elif version > current_version():
        errors["version"] = f"Version {version} does not exist yet (current {current_version()})."
    if errors:
        raise ValidationError(errors)
    gateway = Gateway.objects.select_for_update().filter(gateway_id=gateway_id).first()
    if gateway is None or gateway.account_id != acting_user.pk:
        raise PermissionDenied(gateway_not_bound_reason(gateway_id, acting_user))
    now = clock.now()
    GatewayAck.objects.create(gateway=gateway, version=version, acked_at=now)
    # A late ack of an older version does not move the gateway backwards.
    if version >= gateway.acked_version:
        gateway.acked_version = version
        gateway.acked_at = now
        save_audited(gateway, acting_user=acting_user, reason=f"acked policy v{version}")
    return gateway


def gateway_not_bound_reason(gateway_id: str, account) -> str:
    return (
        f"The gateway '{gateway_id}' is not bound to the account '{account.get_username()}': "
        "an admin binds gateway names to their account (admin → Gateways)."
    )


@transaction.atomic
def gateway_bind(*, gateway_id: str, account, acting_user) -> Gateway:
    """Bind a gateway name to the gateway account that may ack for it (seed_demo, tests; admins
    use the admin page)."""
    if not roles.has_role(account, roles.GATEWAY):
        raise ValidationError({"account": f"'{account.get_username()}' is not a gateway account."})
    gateway = Gateway.objects.select_for_update().filter(gateway_id=gateway_id).first()
    gateway = gateway or Gateway(gateway_id=gateway_id)
    if gateway.pk and gateway.account_id == account.pk:
        return gateway
    gateway.account = account
    save_audited(gateway, acting_user=acting_user, reason=f"bound to {account.get_username()}")
    return gateway


LAG_AFTER = timedelta(minutes=5)
REPORTING_WITHIN = timedelta(days=1)


def gateway_status(now=None) -> list[dict]:
    """Each gateway's acked version, how far behind it is in versions and in seconds (since the
    first version it has not acked was published), and a level: green when current, amber while
    behind, red ("lagging") when behind for longer than LAG_AFTER (a gateway polling normally
    catches up within seconds), grey when it has not reported for REPORTING_WITHIN."""
    from .models import PolicyVersion

    now = now or clock.now()
    row = PolicyVersion.objects.filter(pk=1).first()
    current = row.current if row else 0
    gateways = list(Gateway.objects.select_related("account"))
    # When each missed version was published: its bump's history row (one query for all).
    missed = {g.acked_version + 1 for g in gateways if g.acked_version < current}
    published = dict(
        PolicyVersion.history.filter(current__in=missed)
        .order_by("history_date")
        .values_list("current", "history_date")
    )
    rows = []
    for gateway in gateways:
        age = (now - gateway.acked_at) if gateway.acked_at else None
        behind_by = max(0, current - gateway.acked_version)
        since = published.get(gateway.acked_version + 1) if behind_by else None
        lag = (now - since) if since else (age if behind_by else timedelta(0))
        reporting = age is not None and age <= REPORTING_WITHIN
        lagging = bool(behind_by) and (lag is None or lag > LAG_AFTER)
        level = "green" if not behind_by else ("red" if lagging else "amber")
        rows.append(
            {
                "gateway": gateway,
                "acked_version": gateway.acked_version,
                "behind_by": behind_by,
                "lag_seconds": None if lag is None else max(0.0, lag.total_seconds()),
                "age": age,
                "reporting": reporting,
                "lagging": lagging,
                "level": level if reporting else "grey",
            }
        )
    return rows


# ----- tenant switch expiry (Celery beat: changemgmt.killswitches.tasks) -----


def policy_today() -> date:
    """Today in the release policy's time zone. A tenant switch's `expires` is a day, and a day
    lasts until it ends there: "expires 2026-06-30" keeps the AI off through June 30th in New
    York, not until 20:00 that evening (UTC midnight)."""
    from changemgmt.windows.policy import current_policy

    return clock.now().astimezone(current_policy().zone).date()


def sweep_tenant_expiry() -> dict:
    """Lift tenant switches past `expires`; warn owners 7 days ahead, once. Each row is claimed
    with skip_locked and re-checked, so redelivery and several workers are harmless."""
    today = policy_today()
    lifted = warned = 0
    candidates = TenantSwitch.objects.filter(ai_disabled=True, expires__isnull=False).order_by("pk")
    for pk in candidates.values_list("pk", flat=True):
        result = _sweep_one(pk, today)
        lifted += result == "lifted"
        warned += result == "warned"
    return {"lifted": lifted, "warned": warned}


@transaction.atomic
def _sweep_one(pk: int, today: date) -> str:
    switch = (
        TenantSwitch.objects.select_for_update(skip_locked=True)
        .filter(pk=pk, ai_disabled=True, expires__isnull=False)
        .first()
    )
    if switch is None:
        return ""
    switch = TenantSwitch.objects.select_related("tenant").get(pk=switch.pk)
    actor = system_user()
    if switch.expires < today:
        expired_on = switch.expires
        switch.ai_disabled = False
        switch.expires = None
        switch.warned_at = None
        reason = f"released: expired on {expired_on.isoformat()} (was: {switch.reason})"
        save_audited(switch, acting_user=actor, reason=reason)
        version = policy_bump(
            f"{switch.path} lifted: expired {expired_on.isoformat()}", sections=False
        )
        notify(
            "killswitch.expired",
            subject=f"Tenant kill switch {switch.path} lifted (expired)",
            body=f"{switch.path} expired on {expired_on.isoformat()} and was lifted: AI is back "
            f"on for this tenant. Gateway policy v{version}. Reason it was on: {switch.reason}",
            recipients=owner_emails(switch),
            payload={"switch": switch.path, "expired": expired_on.isoformat()},
        )
        return "lifted"
    if switch.warned_at is None and switch.expires - today <= EXPIRY_WARNING:
        switch.warned_at = clock.now()
        save_audited(switch, acting_user=actor, reason=f"expiry warning: expires {switch.expires}")
        notify(
            "killswitch.expiring",
            subject=f"Tenant kill switch {switch.path} expires {switch.expires.isoformat()}",
            body=f"{switch.path} (AI off: {switch.reason}) will be lifted after "
            f"{switch.expires.isoformat()}. Extend it from the console if it must stay on.",
            recipients=owner_emails(switch),
            payload={"switch": switch.path, "expires": switch.expires.isoformat()},
        )
        return "warned"
    return ""
