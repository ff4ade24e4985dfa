import threading

import pytest
from django.db import connection

from changemgmt.killswitches import policy

pytestmark = pytest.mark.django_db


def test_it_starts_at_version_zero_and_bumps_by_one():
    assert policy.current_version() == 0
    assert policy.policy_bump("first") == 1
    assert policy.policy_bump("second") == 2
    assert policy.current_version() == 2


def test_it_builds_the_document_once_per_version(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        version = policy.policy_bump("a change")
    served = policy.served()
    assert served.version == version
    assert policy.served() is served
    from changemgmt.killswitches.models import PolicyDocument

    assert PolicyDocument.objects.filter(version=version).count() == 1


def test_it_refuses_a_reserved_section_name():
    with pytest.raises(ValueError):
        policy.register_policy_section("version", lambda: 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_never_hands_out_the_same_version_twice_under_concurrency():
    seen = []

    def bump():
        try:
            seen.append(policy.policy_bump("concurrent"))
        finally:
            connection.close()

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seen) == list(range(1, 9))
