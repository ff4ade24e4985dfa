"""django-fsm-2's FSMModelMixin.refresh_from_db switches `protected` off and on again on the one
field object every thread shares (issue 12 item 6). With gunicorn threads, a request refreshing
a ticket while another thread's refresh had just switched protection back on answered 500
`AttributeError: Direct state modification is not allowed` (3 in 764 votes from 20 voters).
Our models refresh without touching the shared field; protection itself stays on."""

import sys
import threading

import pytest
from django.db import connection

from changemgmt.tickets.models import ChangeTicket
from tests.factories import TicketFactory

THREADS = 8
ROUNDS = 150


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_refreshes_tickets_from_many_threads_without_an_attribute_error(author):
    ticket = TicketFactory(author=author)
    barrier = threading.Barrier(THREADS)
    errors = []

    def refresh_in_a_loop():
        try:
            mine = ChangeTicket.objects.get(pk=ticket.pk)
            barrier.wait(timeout=10)
            for _ in range(ROUNDS):
                mine.refresh_from_db()
                mine.refresh_from_db(fields=["state"])
        except Exception as error:  # noqa: BLE001 - the test asserts there are none
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=refresh_in_a_loop) for _ in range(THREADS)]
    # Switch threads as often as the interpreter can, so the toggles interleave like gunicorn's.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        sys.setswitchinterval(interval)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []


def test_direct_state_modification_is_still_refused(db, author):
    ticket = TicketFactory(author=author)
    ticket.refresh_from_db()
    with pytest.raises(AttributeError, match="Direct state modification is not allowed"):
        ticket.state = "approved"
    assert ChangeTicket._meta.get_field("state").protected


def test_a_failed_refresh_leaves_the_state_protected(db, author):
    ticket = TicketFactory(author=author)
    ChangeTicket.objects.filter(pk=ticket.pk).delete()
    with pytest.raises(ChangeTicket.DoesNotExist):
        ticket.refresh_from_db()
    with pytest.raises(AttributeError):
        ticket.state = "approved"
