"""A flip never queues behind another process's document build (PostgreSQL).

Before: the after-commit build waited on the build lock (`pg_advisory_lock`), so under a burst of
flips each flip held a web thread and a database connection while the builds ahead of it ran,
only to find its document built already. Now a flip that finds the lock taken returns at once,
and the builder looks at the version again when it lets go of the lock.
"""

import json
import threading

import pytest
from django.db import connection, transaction

from changemgmt.audit.models import AuditRecord
from changemgmt.audit.verification import verify
from changemgmt.killswitches import policy
from changemgmt.killswitches.models import PolicyDocument
from changemgmt.killswitches.services import killswitch_flip
from tests.factories import FeatureFactory

from .factories import FeatureSwitchFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def engaged_in(version, slug) -> bool:
    body = json.loads(PolicyDocument.objects.get(version=version).json_text)
    return body["feature_kill_switches"][slug]["enabled"] is False


@pytest.fixture
def paused_builder(monkeypatch):
    """The first document render of the thread that asks for it waits until `go` is set."""
    building, go, paused = threading.Event(), threading.Event(), {}
    render = policy._render

    def pausing(*args, **kwargs):
        if paused.get(threading.get_ident()):
            paused[threading.get_ident()] = False
            building.set()
            assert go.wait(timeout=30), "the test never let the builder go"
        return render(*args, **kwargs)

    monkeypatch.setattr(policy, "_render", pausing)
    return paused, building, go


def test_a_flip_leaves_its_document_to_the_builder_at_work_and_the_builder_builds_it(
    platform_team, paused_builder
):
    paused, building, go = paused_builder
    first, second = (FeatureSwitchFactory(feature=FeatureFactory(slug=s)) for s in ("a-1", "b-2"))
    results, errors = {}, []

    def flip(slug, name, pause=False):
        paused[threading.get_ident()] = pause
        try:
            results[name] = killswitch_flip(
                "feature", slug, engaged=True, reason="drill", acting_user=platform_team
            ).version
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    builder = threading.Thread(target=flip, args=(first.feature.slug, "builder", True))
    builder.start()
    assert building.wait(timeout=30), "the first flip's build never started"

    # The first flip's build holds the build lock: the second flip still answers.
    second_flip = threading.Thread(target=flip, args=(second.feature.slug, "second"))
    second_flip.start()
    second_flip.join(timeout=10)
    finished_while_locked = not second_flip.is_alive()
    go.set()
    builder.join(timeout=30)
    second_flip.join(timeout=30)
    assert errors == []
    assert finished_while_locked, "the flip waited for another flip's document build"
    assert results["second"] == results["builder"] + 1

    # The builder, done with the first version, looked again and built the second one.
    assert PolicyDocument.objects.filter(version=results["second"]).exists()
    assert engaged_in(results["second"], "b-2") and engaged_in(results["second"], "a-1")
    assert policy.served().version == results["second"]


def test_a_build_that_finds_the_version_moved_meanwhile_builds_again(platform_team, monkeypatch):
    """`ensure_document` (a poll that found no document) closes the same gap."""
    FeatureSwitchFactory(feature=FeatureFactory(slug="c-3"))
    FeatureSwitchFactory(feature=FeatureFactory(slug="d-4"))
    version = killswitch_flip(
        "feature", "c-3", engaged=True, reason="drill", acting_user=platform_team
    ).version
    render, bumped = policy._render, []

    def other_flip():
        try:
            bumped.append(
                killswitch_flip(
                    "feature", "d-4", engaged=True, reason="drill", acting_user=platform_team
                ).version
            )
        finally:
            connection.close()

    def bump_meanwhile(*args, **kwargs):
        built = render(*args, **kwargs)
        if not bumped:  # another process's flip commits while this document is rendered
            other = threading.Thread(target=other_flip)
            other.start()
            other.join(timeout=10)
            assert not other.is_alive(), "the flip waited for this build"
        return built

    PolicyDocument.objects.filter(version=version).delete()
    monkeypatch.setattr(policy, "_render", bump_meanwhile)
    assert policy.ensure_document().version == version
    assert bumped == [version + 1]
    assert engaged_in(version + 1, "d-4")


def test_only_the_document_commits_without_waiting_for_the_disk(platform_team):
    """The flip's own transaction commits durably (synchronous_commit on); the document built
    after it, derived from the committed version, does not wait for its WAL flush."""
    switch = FeatureSwitchFactory(feature=FeatureFactory(slug="drill-durable"))
    setting = {}

    def look(execute, sql, params, many, context):
        for table in ("killswitches_featureswitch", "killswitches_policydocument"):
            if sql.startswith(("UPDATE", "INSERT")) and f'"{table}"' in sql.split("(")[0]:
                raw = context["cursor"].cursor
                setting[table] = raw.execute("SHOW synchronous_commit").fetchone()[0]
        return execute(sql, params, many, context)

    with connection.execute_wrapper(look):
        version = killswitch_flip(
            "feature", switch.feature.slug, engaged=True, reason="drill", acting_user=platform_team
        ).version
    assert setting == {"killswitches_featureswitch": "on", "killswitches_policydocument": "off"}
    assert engaged_in(version, "drill-durable")
    with connection.cursor() as cursor:  # SET LOCAL ended with the document's transaction
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"


def test_a_document_stored_meanwhile_by_a_reader_in_a_transaction_stands(
    platform_team, monkeypatch
):
    """The builder inserts its document without a savepoint (two round trips fewer). A reader
    inside a transaction of its own builds under the counter's row lock, not the build lock, so
    it can store the same version first: then the builder's whole transaction is undone, and the
    flip answers with the reader's document, which is the only one, with one audit record."""
    FeatureSwitchFactory(feature=FeatureFactory(slug="e-5"))
    render, raced = policy._render, []

    def reader():
        try:
            with transaction.atomic():
                raced.append(policy.ensure_document())  # in a transaction: `_ensure_locked`
        finally:
            connection.close()

    def reader_stores_first(*args, **kwargs):
        built = render(*args, **kwargs)
        if not raced:  # the builder's render (the reader's own render passes through)
            raced.append(None)
            other = threading.Thread(target=reader)
            other.start()
            other.join(timeout=10)
            assert not other.is_alive(), "the reader waited for the builder"
        return built

    monkeypatch.setattr(policy, "_render", reader_stores_first)
    version = killswitch_flip(
        "feature", "e-5", engaged=True, reason="drill", acting_user=platform_team
    ).version
    assert raced[1].version == version, "the reader did not store the version first"
    assert PolicyDocument.objects.filter(version=version).count() == 1
    stored = PolicyDocument.objects.get(version=version)
    assert policy.served().json == stored.json_text.encode() == raced[1].json
    assert engaged_in(version, "e-5")
    records = AuditRecord.objects.filter(
        object_model="killswitches.policydocument", object_id=str(stored.pk)
    )
    assert records.count() == 1
    verify(live=False)


def test_the_build_begins_its_snapshot_and_tries_the_lock_in_one_round_trip(platform_team):
    """After the flip's commit: the snapshot and the try-lock go as one message, and once the
    document's transaction has committed, only the unlock and one look at the version follow
    (the version published is that look's)."""
    switch = FeatureSwitchFactory(feature=FeatureFactory(slug="f-6"))
    sent = []

    def record(execute, sql, params, many, context):
        sent.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        version = killswitch_flip(
            "feature", switch.feature.slug, engaged=True, reason="drill", acting_user=platform_team
        ).version
    after_commit = sent[[n for n, sql in enumerate(sent) if "COMMIT" in sql][0] + 1 :]
    snapshot = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
    assert f"{snapshot}; SELECT pg_try_advisory_lock(%s)" in after_commit
    assert not [sql for sql in after_commit if sql == snapshot or "SAVEPOINT" in sql]
    unlock = [n for n, sql in enumerate(after_commit) if "pg_advisory_unlock" in sql][0]
    assert "COMMIT" in after_commit[unlock - 1]  # the document's transaction, just before
    assert [sql for sql in after_commit[:unlock] if '"killswitches_policydocument" (' in sql]
    looks = [sql for sql in after_commit[unlock:] if '"killswitches_policyversion"' in sql]
    assert len(looks) == 1, looks
    assert policy.served().version == version
