"""django-fsm-2 without its one thread-unsafe habit (issue 12 item 6).

`FSMModelMixin.refresh_from_db` (django-fsm-2 4.2.4) sets `protected = False` on the state *field*
- one object shared by every thread of the process - reloads, then sets it back, without
try/finally. Under gunicorn threads a second request refreshing at the same moment found the
field protected again mid-reload and answered 500 `AttributeError: Direct state modification is
not allowed`; a refresh that raised (a deleted row) left protection off for the whole process.

Here the field's `protected` answers per thread: a refresh lifts it for its own thread only, for
the duration of the reload, and always restores it. Nothing writes the shared flag any more.

Upstream: the toggle came with FSMModelMixin in https://github.com/kmmbvnr/django-fsm/pull/246
(fixing https://github.com/kmmbvnr/django-fsm/issues/174); django-fsm-2 only has
https://github.com/django-commons/django-fsm-2/issues/61 (document the mixin). No report of the
thread race was found. tests/tickets/test_concurrency_refresh.py reproduces it.
"""

import contextlib
import threading

import django_fsm
from django.db import models

_local = threading.local()


@contextlib.contextmanager
def refreshing():
    """Lift state protection on this thread only, while a refresh reloads the row."""
    _local.depth = getattr(_local, "depth", 0) + 1
    try:
        yield
    finally:
        _local.depth -= 1


class FSMField(django_fsm.FSMField):
    @property
    def protected(self) -> bool:
        return self._protected and not getattr(_local, "depth", 0)

    @protected.setter
    def protected(self, value: bool) -> None:
        # Only construction sets it (FSMFieldMixin.__init__); django-fsm's own refresh toggle is
        # bypassed by SafeRefreshMixin below, and the historical models copy the field unprotected.
        if not hasattr(self, "_protected"):
            self._protected = bool(value)

    def deconstruct(self):
        # The same column and migrations as django_fsm.FSMField.
        name, _, args, kwargs = super().deconstruct()
        kwargs["protected"] = self._protected
        return name, "django_fsm.FSMField", args, kwargs


class SafeRefreshMixin:
    """Put first in the bases: reloads without django-fsm's shared toggle."""

    def refresh_from_db(self, *args, **kwargs):
        with refreshing():
            models.Model.refresh_from_db(self, *args, **kwargs)
        update_initial = getattr(self, "_update_initial_state", None)  # ConcurrentTransitionMixin
        if update_initial is not None:
            update_initial()
