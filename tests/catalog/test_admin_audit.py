"""Admin edits of catalog and policy data keep the acting user and a reason, end to end: the
simple-history row and the audit record it chains into."""

import pytest
from django.contrib import admin
from django.urls import reverse

from changemgmt.audit.admin_mixins import AuditedAdminMixin
from changemgmt.audit.chain import history_models
from changemgmt.audit.models import AuditRecord
from changemgmt.catalog.models import AIFeature, Cohort, Team
from changemgmt.rollouts.models import GuardPolicy
from changemgmt.windows.models import WindowPolicy
from tests.admin_forms import form_data
from tests.factories import CohortFactory, FeatureFactory, TeamFactory, UserFactory
from tests.windows.test_dashboard_and_admin import POLICY

pytestmark = pytest.mark.django_db


def last_history(obj):
    return type(obj).history.filter(id=obj.pk).order_by("history_id").last()


def last_record(model, pk):
    return AuditRecord.objects.filter(
        object_model=model._meta.label_lower, object_id=str(pk)
    ).latest("seq")


def assert_audited(model, pk, *, user, reason):
    history = model.history.filter(id=pk).order_by("history_id").last()
    assert (history.history_user, history.history_change_reason) == (user, reason)
    record = last_record(model, pk)
    assert (record.actor_username, record.reason) == (user.username, reason)
    assert record.history_id == history.history_id


def test_it_says_which_fields_an_admin_changed(admin_client, root):
    feature = FeatureFactory(slug="policy-search-v1", name="Policy search")
    other_team = TeamFactory(slug="underwriting")
    url = reverse("admin:catalog_aifeature_change", args=[feature.pk])
    data = form_data(admin_client, url, name="Policy search v1", owner_team=other_team.pk)
    assert admin_client.post(url, data).status_code == 302
    assert_audited(AIFeature, feature.pk, user=root, reason="admin: changed name, owner_team")
    assert last_record(AIFeature, feature.pk).changes["name"] == [
        "Policy search",
        "Policy search v1",
    ]


def test_it_gives_the_reason_to_the_history_rows_of_a_changed_m2m_field(admin_client, root):
    team = TeamFactory(slug="search", name="Search")
    member = UserFactory(username="member")
    url = reverse("admin:catalog_team_change", args=[team.pk])
    before = team.history.count()
    assert admin_client.post(url, form_data(admin_client, url, members=[member.pk])).status_code
    rows = team.history.order_by("history_id")[before:]
    assert len(rows) >= 2  # the save, then the members set
    assert {(row.history_user, row.history_change_reason) for row in rows} == {
        (root, "admin: changed members")
    }
    assert_audited(Team, team.pk, user=root, reason="admin: changed members")


def test_it_records_an_admin_add(admin_client, root):
    response = admin_client.post(
        reverse("admin:catalog_cohort_add"), {"slug": "beta-testers", "name": "Beta testers"}
    )
    assert response.status_code == 302
    cohort = Cohort.objects.get(slug="beta-testers")
    assert_audited(Cohort, cohort.pk, user=root, reason="admin: added")


def test_it_records_an_admin_delete(admin_client, root):
    cohort = CohortFactory(slug="beta-testers")
    url = reverse("admin:catalog_cohort_delete", args=[cohort.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not Cohort.objects.filter(pk=cohort.pk).exists()
    assert last_history(cohort).history_type == "-"
    assert_audited(Cohort, cohort.pk, user=root, reason="admin: deleted")


def test_it_records_every_row_of_a_bulk_delete(admin_client, root):
    cohorts = [CohortFactory(slug=f"ring-{n}") for n in range(3)]
    response = admin_client.post(
        reverse("admin:catalog_cohort_changelist"),
        {"action": "delete_selected", "_selected_action": [c.pk for c in cohorts], "post": "yes"},
    )
    assert response.status_code == 302
    assert not Cohort.objects.exists()
    for cohort in cohorts:
        assert last_history(cohort).history_type == "-"
        assert_audited(Cohort, cohort.pk, user=root, reason="admin: deleted")


def test_it_records_admin_edits_of_window_and_guard_policies(admin_client, root):
    response = admin_client.post(reverse("admin:windows_windowpolicy_add"), POLICY)
    assert response.status_code == 302
    assert_audited(WindowPolicy, WindowPolicy.objects.get().pk, user=root, reason="admin: added")
    guard = GuardPolicy.objects.create(tier="medium", metric="error_rate", threshold=0.02)
    url = reverse("admin:rollouts_guardpolicy_change", args=[guard.pk])
    assert admin_client.post(url, form_data(admin_client, url, threshold="0.03")).status_code
    assert_audited(GuardPolicy, guard.pk, user=root, reason="admin: changed threshold")


def test_it_audits_every_admin_that_can_write(rf, root):
    request = rf.get("/admin/")
    request.user = root
    writable = [
        model_admin
        for model_admin in admin.site._registry.values()
        if model_admin.has_add_permission(request)
        or model_admin.has_change_permission(request)
        or model_admin.has_delete_permission(request)
    ]
    assert any(model_admin.model is AIFeature for model_admin in writable)
    # Users, groups, tokens and lockouts are other packages' models, with no domain history.
    domain_models = {history_model.instance_type for history_model in history_models()}
    unaudited = [
        model_admin.model._meta.label
        for model_admin in writable
        if model_admin.model in domain_models and not isinstance(model_admin, AuditedAdminMixin)
    ]
    assert unaudited == []
