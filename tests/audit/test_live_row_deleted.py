"""A live row deleted with raw SQL writes no '-' history row: its history still ends in '+' or
'~', so verify_audit walks the history's objects and names the row that is gone (issue 14)."""

import io

import pytest
from django.core.management import CommandError, call_command

from changemgmt.audit.verification import Broken, check_live_rows

from .conftest import as_table_owner

pytestmark = pytest.mark.django_db


def raw_delete(table, pk):
    with as_table_owner() as cursor:
        cursor.execute(f"DELETE FROM {cursor.db.ops.quote_name(table)} WHERE id = %s", [pk])


def test_it_names_a_kill_switch_deleted_with_raw_sql(db):
    from tests.killswitches.factories import FeatureSwitchFactory

    switch = FeatureSwitchFactory()
    latest = switch.history.latest("history_id")
    raw_delete("killswitches_featureswitch", switch.pk)
    with pytest.raises(CommandError) as broken:
        call_command("verify_audit", stdout=io.StringIO())
    assert (
        f"killswitches_featureswitch id={switch.pk} is gone but its latest history row "
        f"#{latest.history_id} does not record a deletion"
    ) in str(broken.value)


def test_it_names_a_tenant_switch_deleted_with_raw_sql(db):
    from tests.killswitches.factories import TenantSwitchFactory

    switch = TenantSwitchFactory()
    raw_delete("killswitches_tenantswitch", switch.pk)
    with pytest.raises(Broken) as broken:
        check_live_rows(chunk_size=1)
    assert f"killswitches_tenantswitch id={switch.pk} is gone" in str(broken.value)


def test_a_row_deleted_through_the_app_is_not_a_break(db):
    from tests.killswitches.factories import FeatureSwitchFactory

    kept, deleted = FeatureSwitchFactory(), FeatureSwitchFactory()
    deleted_pk = deleted.pk
    deleted.delete()  # simple-history writes its '-' row
    assert type(deleted).history.filter(id=deleted_pk).latest("history_id").history_type == "-"
    assert check_live_rows(chunk_size=1) >= 1
    assert kept.history.filter(id=kept.pk).latest("history_id").history_type == "+"
