import io

import pytest
from django.test import RequestFactory

from changemgmt.audit.recording import system_user
from changemgmt.windows import demo, panels
from changemgmt.windows.models import Freeze, WindowPolicy
from tests.windows.factories import make_freeze, ny

pytestmark = pytest.mark.django_db


def dashboard(user):
    request = RequestFactory().get("/")
    request.user = user
    return panels.dashboard_panel(request)


def test_it_shows_a_freeze_banner_and_the_next_window_on_the_dashboard(client, at, auditor):
    make_freeze("Q4 close", ny(2026, 12, 28), ny(2027, 1, 5, 9), reason="Quarter-end close.")
    with at(ny(2026, 12, 31, 12)):
        client.force_login(auditor)  # sessions expire in traveled time
        body = client.get("/").content.decode()
    assert "Freeze in force: Q4 close" in body and "Quarter-end close." in body
    assert "Until Tue 2027-01-05 09:00 EST" in body and "(2027-01-05 14:00 UTC)" in body
    assert "Next open window: <strong>Tue 2027-01-05 10:00 EST</strong>" in body


def test_it_says_when_the_window_is_open_now(at, auditor):
    with at(ny(2027, 2, 10, 11)):
        panel = dashboard(auditor)
    assert panel["window_open_now"] and panel["freezes_now"] == []
    assert panel["window_closes"]["local"] == "Wed 2027-02-10 16:00 EST"


POLICY = {
    "name": "Standard",
    "timezone": "America/New_York",
    "weekdays": ["1", "2", "3"],
    "start_time": "10:00",
    "end_time": "16:00",
    "active": "on",
}


@pytest.mark.parametrize(
    "change, field",
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"end_time": "09:00"}, "end_time"),
        ({"weekdays": []}, "weekdays"),
    ],
)
def test_it_validates_the_policy_in_the_admin(admin_client, change, field):
    response = admin_client.post("/admin/windows/windowpolicy/add/", {**POLICY, **change})
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not WindowPolicy.objects.exists()


def test_it_saves_a_valid_policy_and_keeps_one_active(admin_client):
    response = admin_client.post("/admin/windows/windowpolicy/add/", POLICY)
    assert response.status_code == 302
    policy = WindowPolicy.objects.get()
    assert policy.weekdays == [1, 2, 3] and policy.history.count() == 1
    second = admin_client.post("/admin/windows/windowpolicy/add/", {**POLICY, "name": "Other"})
    assert "active" in second.context["adminform"].form.errors


def test_it_validates_freezes_in_the_admin(admin_client):
    data = {
        "name": "Backwards",
        "starts_at_0": "2027-01-05",
        "starts_at_1": "09:00",
        "ends_at_0": "2026-12-28",
        "ends_at_1": "00:00",
        "reason": "Quarter-end close",
        "regions": "us, ca",
    }
    response = admin_client.post("/admin/windows/freeze/add/", data)
    assert "ends_at" in response.context["adminform"].form.errors
    assert not Freeze.objects.exists()
    response = admin_client.post(
        "/admin/windows/freeze/add/", {**data, "ends_at_0": "2027-01-06", "name": "Ok"}
    )
    assert response.status_code == 302
    assert Freeze.objects.get().regions == ["CA", "US"]


def test_it_seeds_the_demo_calendar_once(db):
    actor = system_user()
    demo.seed(acting_user=actor, stdout=io.StringIO())
    demo.seed(acting_user=actor, stdout=io.StringIO())
    assert WindowPolicy.objects.get().timezone == "America/New_York"
    assert sorted(Freeze.objects.values_list("name", flat=True)) == [
        "Company all-hands",
        "Peak shopping",
        "Q4 close",
    ]
    q4 = Freeze.objects.get(name="Q4 close")
    assert q4.history.get().history_user == actor


def test_it_writes_the_emergency_doctrine_down(client, auditor):
    client.force_login(auditor)
    body = client.get("/doctrine/emergency/").content.decode()
    assert "exec approver" in body and "not be the author" in body
    assert "emergency — retrospective CAB due" in body and "Kill switches first" in body
