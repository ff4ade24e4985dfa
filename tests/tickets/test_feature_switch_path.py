"""A ticket's feature:<slug> kill-switch path names a switch that exists (issue 11 item 4): a
Low-tier ticket is never pre-approved with a path no switch stands behind."""

import pytest
from django.core.exceptions import ValidationError

from changemgmt.tickets.filing import ticket_update
from changemgmt.tickets.serializers import ChangeSerializer
from changemgmt.tickets.services import TransitionRefused, ticket_transition
from tests.factories import FeatureFactory, TicketFactory
from tests.killswitches.factories import FeatureSwitchFactory

NO_SWITCH = "There is no kill switch feature:summariser"


def test_it_refuses_a_feature_path_with_no_switch_behind_it(author):
    # The feature is in the catalog, but it has no kill switch: nothing would turn it off.
    feature = FeatureFactory(slug="summariser", risk_tier="low", switch=False)
    ticket = TicketFactory(author=author, feature=feature, kill_switch="feature:summariser")
    with pytest.raises(TransitionRefused) as refused:
        ticket_transition(ticket, "submit", acting_user=author)
    assert NO_SWITCH in dict(refused.value.reasons)["kill_switch_path_names_a_switch"]
    ticket.refresh_from_db()
    assert ticket.state == "draft" and not ticket.standard_change
    FeatureSwitchFactory(feature=feature)
    ticket_transition(ticket, "submit", acting_user=author)
    ticket.refresh_from_db()
    assert ticket.state == "approved"  # Low tier: pre-approved once the switch exists


def test_saving_a_feature_path_with_no_switch_is_a_field_error(author):
    FeatureFactory(slug="summariser", switch=False)
    ticket = TicketFactory(author=author)
    with pytest.raises(ValidationError) as refused:
        ticket_update(ticket, acting_user=author, data={"kill_switch": "feature:summariser"})
    assert NO_SWITCH in " ".join(refused.value.message_dict["kill_switch"])
    ticket.refresh_from_db()
    assert ticket.kill_switch != "feature:summariser"


def test_the_api_refuses_a_feature_path_with_no_switch(db):
    FeatureFactory(slug="summariser", switch=False)
    serializer = ChangeSerializer()
    with pytest.raises(Exception) as refused:
        serializer.validate_kill_switch("feature:summariser")
    assert NO_SWITCH in str(refused.value.detail[0])
    FeatureSwitchFactory(feature=FeatureFactory(slug="summariser"))
    assert serializer.validate_kill_switch("feature:summariser") == "feature:summariser"
