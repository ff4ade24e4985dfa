"""A live row changed with raw SQL writes no history row: verify_audit compares every audited live
row with its latest history row and names the table, the id and the field."""

import datetime
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import models, transaction

from changemgmt.audit.chain import history_models, tracked_attnames
from changemgmt.audit.verification import Broken, check_live_rows, verify
from changemgmt.catalog.models import Cohort

from .conftest import as_table_owner

pytestmark = pytest.mark.django_db


def test_it_names_a_draft_ticket_approved_with_raw_sql(audited_ticket):
    assert audited_ticket.state == "draft"
    with as_table_owner() as cursor:
        cursor.execute(
            "UPDATE tickets_changeticket SET state = 'approved' WHERE id = %s", [audited_ticket.pk]
        )
    with pytest.raises(CommandError) as broken:
        call_command("verify_audit", stdout=io.StringIO())
    message = str(broken.value)
    assert f"tickets_changeticket id={audited_ticket.pk}: field state is 'approved'" in message
    assert "'draft'" in message


def test_it_names_a_switch_disabled_with_raw_sql(feature_switch_row):
    with as_table_owner() as cursor:
        cursor.execute(
            "UPDATE killswitches_featureswitch SET enabled = false WHERE id = %s",
            [feature_switch_row.pk],
        )
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("verify_audit", "--json", stdout=out)
    answer = json.loads(out.getvalue())
    assert answer["intact"] is False
    assert (
        f"killswitches_featureswitch id={feature_switch_row.pk}: field enabled"
        in (answer["broken"])
    )


def test_it_names_a_live_row_inserted_without_history(db):
    # bulk_create sends no signals: no history row, as with a raw INSERT.
    (cohort,) = Cohort.objects.bulk_create([Cohort(slug="smuggled", name="smuggled in")])
    with pytest.raises(Broken) as broken:
        verify()
    assert f"catalog_cohort id={cohort.pk} has no history row" in str(broken.value)


@pytest.fixture
def feature_switch_row(db):
    from tests.killswitches.factories import FeatureSwitchFactory

    return FeatureSwitchFactory()


@pytest.fixture
def demo(db, django_capture_on_commit_callbacks, gateway):
    """The demo data, plus a row of each audited model the demo does not make."""
    from changemgmt.audit.recording import save_audited, system_user
    from changemgmt.killswitches import policy, services
    from changemgmt.rollouts.models import Breach, RampStage
    from changemgmt.tickets.models import Vote

    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", password="demo-pass-123", stdout=io.StringIO())
    services.gateway_bind(gateway_id="gw-live-check", account=gateway, acting_user=system_user())
    services.gateway_ack(
        gateway_id="gw-live-check", version=policy.current_version(), acting_user=gateway
    )
    stage = RampStage.objects.select_related("ticket").first()
    ticket, user = stage.ticket, system_user()
    save_audited(
        Vote(ticket=ticket, voter=user, seat="platform", decision="approve", round=1),
        acting_user=user,
        reason="a vote",
    )
    save_audited(
        Breach(
            ticket=ticket,
            stage=stage,
            metric="error_rate",
            value=0.2,
            threshold=0.1,
            created_at=ticket.created_at,
        ),
        acting_user=user,
        reason="a breach",
    )
    from changemgmt.rollouts.models import FeatureGuardTemplate

    save_audited(
        FeatureGuardTemplate(
            feature=ticket.feature,
            metric="error_rate",
            query='rate(errors_total{feature="{feature}"}[5m])',
        ),
        acting_user=user,
        reason="a feature's PromQL",
    )


def tampered(field, value):
    """A different value of the same type, written with raw SQL."""
    if isinstance(field, models.BooleanField):
        return not value
    if isinstance(field, models.IntegerField | models.FloatField | models.DecimalField):
        return (value or 0) + 1000  # clear of any unique neighbour
    if isinstance(field, models.DateTimeField):
        return (value or datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)) + datetime.timedelta(
            days=1
        )
    if isinstance(field, models.DateField):
        return (value or datetime.date(2026, 1, 1)) + datetime.timedelta(days=1)
    if isinstance(field, models.CharField | models.TextField):
        width = field.max_length or 100
        return next(c[:width] for c in ("tampered", "zz") if c[:width] != value)
    return None


def field_to_tamper(history_model, live_model):
    tracked = set(tracked_attnames(history_model))
    for field in live_model._meta.concrete_fields:
        if field.primary_key or field.is_relation or field.attname not in tracked:
            continue
        if tampered(field, None) is not None:
            return field
    raise AssertionError(f"{live_model._meta.label} has no field this test can tamper with")


def test_it_names_a_raw_update_of_every_audited_model(demo):
    missing, undetected = [], []
    for history_model in history_models():
        live = history_model.instance_type
        row = live._base_manager.order_by("pk").first()
        if row is None:
            missing.append(live._meta.label)
            continue
        field = field_to_tamper(history_model, live)
        new = tampered(field, getattr(row, field.attname))
        table = live._meta.db_table
        with transaction.atomic():
            with as_table_owner() as cursor:
                q = cursor.db.ops.quote_name
                cursor.execute(
                    f"UPDATE {q(table)} SET {q(field.column)} = %s WHERE {q(live._meta.pk.column)} = %s",
                    [field.get_db_prep_save(new, cursor.db), row.pk],
                )
            try:
                check_live_rows(chunk_size=50)
            except Broken as broken:
                if f"{table} {live._meta.pk.attname}={row.pk}: field {field.attname}" not in str(
                    broken
                ):
                    undetected.append(f"{table}.{field.attname}: {broken}")
            else:
                undetected.append(f"{table}.{field.attname}: intact")
            transaction.set_rollback(True)
    assert undetected == []
    assert missing == [], f"no row of {missing}"
