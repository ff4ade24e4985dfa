"""Never a 500 for any input: random JSON at the changes endpoints answers 2xx/4xx."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from changemgmt.tickets.models import ChangeTicket
from tests.factories import FeatureFactory, TicketFactory
from tests.tickets.api_payloads import WORKED_EXAMPLE, client_for

pytestmark = pytest.mark.django_db

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
# Bodies near the documented shape: each field of the worked example replaced by random JSON.
near_shape = st.fixed_dictionaries(
    {},
    optional={key: json_values | st.just(value) for key, value in WORKED_EXAMPLE.items()},
)
bodies = near_shape | json_values

FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def draft(author, release_manager):
    FeatureFactory(slug="support-assistant")
    return TicketFactory(author=author, release_manager=release_manager)


@FUZZ
@given(body=bodies)
def test_it_never_answers_500_to_a_filing(author, draft, body):
    before = ChangeTicket.objects.count()
    response = client_for(author).post("/api/v1/changes/", body, format="json")
    assert response.status_code in (201, 400), (response.status_code, body)
    if response.status_code == 400:
        assert ChangeTicket.objects.count() == before


@FUZZ
@given(body=bodies)
def test_it_never_answers_500_to_a_patch(author, draft, body):
    response = client_for(author).patch(f"/api/v1/changes/{draft.change_id}/", body, format="json")
    assert response.status_code in (200, 400), (response.status_code, body)


@FUZZ
@given(
    path=st.sampled_from(["submit", "cancel", "schedule", "close", "halt", "votes"]),
    body=json_values,
)
def test_it_never_answers_500_to_a_transition_or_vote(author, cab_platform, draft, path, body):
    user = cab_platform if path == "votes" else author
    response = client_for(user).post(
        f"/api/v1/changes/{draft.change_id}/{path}/", body, format="json"
    )
    assert response.status_code < 500, (response.status_code, body)


@FUZZ
@given(
    query=st.dictionaries(
        st.sampled_from(["state", "feature", "tier", "limit", "offset"]), st.text()
    )
)
def test_it_never_answers_500_to_list_filters(auditor, draft, query):
    response = client_for(auditor).get("/api/v1/changes/", query)
    assert response.status_code in (200, 400), (response.status_code, query)
