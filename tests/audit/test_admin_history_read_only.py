import pytest
from django.contrib import admin
from django.urls import reverse

from changemgmt.audit.chain import history_models, m2m_history_models
from changemgmt.audit.models import AuditRecord
from changemgmt.catalog.models import AIFeature
from tests.factories import FeatureFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client):
    user = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def test_it_registers_no_history_model_with_change_or_delete(rf):
    request = rf.get("/admin/")
    request.user = UserFactory(username="root", is_staff=True, is_superuser=True)
    for model in [*history_models(), *m2m_history_models(), AuditRecord]:
        model_admin = admin.site._registry.get(model)
        if model_admin is None:
            continue
        assert not model_admin.has_change_permission(request), model
        assert not model_admin.has_delete_permission(request), model
        assert not model_admin.has_add_permission(request), model


def test_it_offers_no_change_or_delete_of_an_audit_record(superuser_client, audited_ticket):
    record = AuditRecord.objects.order_by("seq").first()
    change = reverse("admin:audit_auditrecord_change", args=[record.pk])
    assert superuser_client.get(change).status_code == 200  # read-only view
    assert superuser_client.post(change, {"reason": "x"}).status_code == 403
    delete = reverse("admin:audit_auditrecord_delete", args=[record.pk])
    assert superuser_client.post(delete, {"post": "yes"}).status_code == 403
    bulk = superuser_client.post(
        reverse("admin:audit_auditrecord_changelist"),
        {"action": "delete_selected", "_selected_action": [record.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302, 403)
    record.refresh_from_db()
    assert record.reason != "x"
    assert AuditRecord.objects.filter(pk=record.pk).exists()


def test_it_refuses_to_revert_an_object_to_an_old_history_version(superuser_client):
    feature = FeatureFactory(slug="policy-search-v1", name="Policy search")
    old = feature.history.get()
    feature.name = "Renamed"
    feature.save()
    url = reverse("admin:catalog_aifeature_simple_history", args=[feature.pk, old.history_id])
    page = superuser_client.get(url)
    assert page.status_code == 200
    data = {
        f.name: getattr(old, f.attname)
        for f in AIFeature._meta.concrete_fields
        if f.name not in ("id", "owner_team", "regions")
    }
    data.update(owner_team=old.owner_team_id, regions="[]")
    response = superuser_client.post(url, data)
    assert response.status_code == 403
    feature.refresh_from_db()
    assert feature.name == "Renamed"
    assert feature.history.count() == 2
