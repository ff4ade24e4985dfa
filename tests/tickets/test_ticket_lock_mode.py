"""A use case's lock on a ticket and its feature excludes other use cases on them, but not the
foreign-key checks of rows that only point at them: under FOR UPDATE a vote or a new ticket on the
feature waited at COMMIT, holding the audit chain's lock, on a transition that waited for that
lock — PostgreSQL's "deadlock detected", answered as 503s under the flips benchmark's load."""

import threading

import pytest
from django.db import connection, transaction
from django.db.utils import OperationalError

from changemgmt.tickets.services import lock_ticket
from tests.factories import TicketFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def in_other_connection(call):
    """Run `call` in a thread (its own connection) with a 2 s lock timeout; its error or None."""
    outcome = []

    def run():
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '2s'")
                call()
            outcome.append(None)
        except OperationalError as error:  # lock_timeout: it waited on our lock
            outcome.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    return outcome[0]


def test_rows_pointing_at_a_locked_ticket_and_feature_commit_without_waiting(author):
    ticket = TicketFactory(author=author)
    with transaction.atomic():
        locked = lock_ticket(ticket)
        # Another ticket filed on the same feature: its FK check on the feature row.
        other = in_other_connection(lambda: TicketFactory(author=author, feature=locked.feature))
        assert other is None, f"a new ticket on the feature waited on the lock: {other}"
        # Still exclusive against another use case on the same ticket.
        contender = in_other_connection(lambda: lock_ticket(ticket.pk))
        assert isinstance(contender, OperationalError)
        assert "lock timeout" in str(contender)
