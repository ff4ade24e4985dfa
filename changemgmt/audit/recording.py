"""Writing history with the acting user and a reason, in one place.

simple-history reads `_history_user` and `_change_reason` off the instance when it saves; set them
and clear them together, or a stale reason sticks to the next save of the same instance.
"""

import contextlib
import copy


@contextlib.contextmanager
def acting(obj, *, acting_user, reason: str):
    obj._history_user = acting_user
    obj._change_reason = reason
    try:
        yield obj
    finally:
        for attr in ("_history_user", "_change_reason"):
            with contextlib.suppress(AttributeError):
                delattr(obj, attr)


def save_audited(obj, *, acting_user, reason: str, **save_kwargs):
    """Save `obj` so its history row names `acting_user` and `reason`."""
    with acting(obj, acting_user=acting_user, reason=reason):
        obj.save(**save_kwargs)
    return obj


def loaded_under_lock(obj):
    """Say that `obj` was just read under its row lock (`select_for_update`), so its next audited
    save is diffed against these values rather than a read of its previous history row: the lock
    keeps them what that row holds. Call it before changing `obj`; returns `obj`."""
    if obj is not None and obj.pk is not None:
        obj._audit_loaded = {
            f.attname: copy.deepcopy(getattr(obj, f.attname)) for f in obj._meta.concrete_fields
        }
    return obj


def delete_audited(obj, *, acting_user, reason: str):
    with acting(obj, acting_user=acting_user, reason=reason):
        obj.delete()


SYSTEM_USERNAME = "changemgmt-system"


def system_user():
    """The account that signs automated actions (Celery, quorum approval, expiry lifts)."""
    from django.contrib.auth import get_user_model

    user, created = get_user_model().objects.get_or_create(
        username=SYSTEM_USERNAME, defaults={"is_active": False, "first_name": "changemgmt"}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def is_system(user) -> bool:
    return user is not None and getattr(user, "username", None) == SYSTEM_USERNAME
