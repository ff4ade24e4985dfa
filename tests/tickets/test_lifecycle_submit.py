import pytest
from django.core.exceptions import PermissionDenied

from changemgmt.catalog.models import TierPolicy
from changemgmt.tickets import services
from changemgmt.tickets.models import State
from tests.factories import FeatureFactory, TicketFactory, UserFactory
from tests.tickets.factories import only_ticket_rules

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _ticket_rules_only(select_guards):
    only_ticket_rules(select_guards)


def refusal(ticket, name, user, **kwargs):
    with pytest.raises(services.TransitionRefused) as refused:
        services.ticket_transition(ticket, name, acting_user=user, **kwargs)
    return refused.value


def test_it_submits_a_medium_ticket_for_cab_review(author, release_manager):
    ticket = TicketFactory(author=author, release_manager=release_manager)
    services.ticket_transition(ticket, "submit", acting_user=author)
    ticket.refresh_from_db()
    assert ticket.state == State.SUBMITTED
    assert ticket.submitted_at is not None and ticket.approved_at is None
    row = ticket.history.first()
    assert row.history_user == author and row.history_change_reason == "submit"


def test_it_approves_a_low_ticket_on_submit_as_a_pre_approved_standard_change(author):
    ticket = TicketFactory(author=author, feature=FeatureFactory(risk_tier="low"))
    services.ticket_transition(ticket, "submit", acting_user=author)
    ticket.refresh_from_db()
    assert ticket.state == State.APPROVED
    assert ticket.standard_change and ticket.approved_fingerprint == ticket.fingerprint()
    assert not ticket.votes.exists()


def test_it_refuses_submit_from_a_state_other_than_draft(author, release_manager):
    ticket = TicketFactory(author=author, release_manager=release_manager)
    services.ticket_transition(ticket, "submit", acting_user=author)
    refused = refusal(ticket, "submit", author)
    assert refused.guard == "state"
    assert "submitted ticket cannot submit" in refused.message


def test_it_refuses_submit_by_anyone_but_the_author(author, release_manager):
    ticket = TicketFactory(author=author, release_manager=release_manager)
    other_author = UserFactory(roles=["author"])
    with pytest.raises(PermissionDenied, match="Only the ticket's author may submit"):
        services.ticket_transition(ticket, "submit", acting_user=other_author)
    ticket.refresh_from_db()
    assert ticket.state == State.DRAFT


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"rollback_plan": "revert"}, "rollback plan"),
        ({"rollback_plan": "It feels reversible."}, "rollback plan"),
        ({"kill_switch": ""}, "kill switch"),
        ({"kill_switch": "feature:no-such-feature"}, "does not exist"),
        ({"pr_url": ""}, "pull request"),
        ({"risk_review_ticket": ""}, "AI Risk Review"),
        ({"paging_list": []}, "paged"),
        ({"regions": []}, "regions"),
        ({"prompt_version": ""}, "prompt registry version"),
        ({"emergency": True, "emergency_justification": ""}, "justification"),
    ],
)
def test_it_refuses_submit_of_an_incomplete_ticket_naming_what_is_missing(
    author, release_manager, change, words
):
    ticket = TicketFactory(author=author, release_manager=release_manager, **change)
    refused = refusal(ticket, "submit", author)
    assert refused.guard == "ticket_is_complete"
    assert words in refused.message
    ticket.refresh_from_db()
    assert ticket.state == State.DRAFT


def test_it_refuses_submit_without_eval_results(author, release_manager):
    ticket = TicketFactory(author=author, release_manager=release_manager, eval_deltas=[])
    refused = refusal(ticket, "submit", author)
    assert refused.guard == "ticket_is_complete" and "eval-results delta" in refused.message


def test_it_refuses_high_tier_submit_without_a_release_manager(author):
    ticket = TicketFactory(
        author=author, feature=FeatureFactory(risk_tier="high"), release_manager=None
    )
    refused = refusal(ticket, "submit", author)
    guards = [name for name, _ in refused.reasons]
    assert "high_tier_has_independent_release_manager" in guards
    assert "High tier needs a release manager" in refused.message


def test_it_refuses_high_tier_submit_when_the_release_manager_is_the_author():
    both = UserFactory(roles=["author", "release_manager"])
    ticket = TicketFactory(
        author=both, release_manager=both, feature=FeatureFactory(risk_tier="high")
    )
    refused = refusal(ticket, "submit", both)
    assert refused.reasons == [
        (
            "high_tier_has_independent_release_manager",
            "High tier: the release manager must not be the author.",
        )
    ]


def test_it_lets_a_medium_author_be_the_release_manager():
    both = UserFactory(roles=["author", "release_manager"])
    ticket = TicketFactory(author=both, release_manager=both)
    services.ticket_transition(ticket, "submit", acting_user=both)
    ticket.refresh_from_db()
    assert ticket.state == State.SUBMITTED


def test_it_refuses_an_eval_regression_beyond_the_tier_tolerance(author, release_manager):
    TierPolicy.objects.create(tier="medium", eval_regression_tolerance=0.005)
    ticket = TicketFactory(
        author=author,
        release_manager=release_manager,
        eval_deltas=[("groundedness", 0.812, 0.800), ("refusal_correctness", 0.9, 0.9)],
    )
    refused = refusal(ticket, "submit", author)
    assert refused.guard == "eval_regressions_are_justified"
    assert "groundedness (-0.012)" in refused.message
    assert "tolerance of 0.005" in refused.message


def test_it_accepts_a_regression_within_tolerance(author, release_manager):
    TierPolicy.objects.create(tier="medium", eval_regression_tolerance=0.005)
    ticket = TicketFactory(
        author=author,
        release_manager=release_manager,
        eval_deltas=[("groundedness", 0.812, 0.809)],
    )
    services.ticket_transition(ticket, "submit", acting_user=author)
    ticket.refresh_from_db()
    assert ticket.state == State.SUBMITTED


def test_it_accepts_a_regression_with_a_written_justification(author, release_manager):
    ticket = TicketFactory(
        author=author,
        release_manager=release_manager,
        eval_deltas=[("groundedness", 0.812, 0.700)],
        eval_regression_justification="Groundedness drops on a retired product line only.",
    )
    services.ticket_transition(ticket, "submit", acting_user=author)
    ticket.refresh_from_db()
    assert ticket.state == State.SUBMITTED


def test_it_runs_guards_other_apps_register_and_names_them(author, release_manager):
    from changemgmt.tickets.guards import register

    @register("submit")
    def feature_is_not_under_incident(ticket):
        return "The feature is under an open incident."

    ticket = TicketFactory(author=author, release_manager=release_manager)
    refused = refusal(ticket, "submit", author)
    assert refused.reasons == [
        ("feature_is_not_under_incident", "The feature is under an open incident.")
    ]
