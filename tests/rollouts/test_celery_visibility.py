"""A message whose worker died comes back in minutes, and a live one is never delivered twice.

Redis redelivers an unacked message after the broker's visibility timeout. It must be a little
over the longest a task may run (the time limit) and the longest a retry may wait (its countdown
is an unacked ETA message too): longer, and a SIGKILLed worker's message waits an hour; shorter,
and a running or waiting task is delivered a second time.
"""

from django.conf import settings

from changemgmt.celery import app


def longest_countdown(task) -> float:
    if not getattr(task, "autoretry_for", None) or not getattr(task, "retry_backoff", False):
        return float(task.default_retry_delay or 0)
    backoff = 1 if task.retry_backoff is True else task.retry_backoff
    cap = getattr(task, "retry_backoff_max", 600)  # Celery's default cap
    return min(cap, backoff * 2 ** (task.max_retries or 0))


def test_it_bounds_the_visibility_timeout_to_a_little_over_the_longest_task():
    timeout = settings.CELERY_VISIBILITY_TIMEOUT
    assert settings.CELERY_TASK_TIME_LIMIT < timeout <= settings.CELERY_TASK_TIME_LIMIT + 120
    assert app.conf.task_time_limit == settings.CELERY_TASK_TIME_LIMIT
    assert app.conf.task_soft_time_limit < app.conf.task_time_limit


def test_it_never_lets_a_retry_wait_past_the_visibility_timeout():
    app.loader.import_default_modules()
    ours = {name: task for name, task in app.tasks.items() if name.startswith("changemgmt.")}
    assert "changemgmt.rollouts.tasks.advance_rollouts" in ours
    for name, task in ours.items():
        assert longest_countdown(task) < settings.CELERY_VISIBILITY_TIMEOUT, name


def test_it_hands_the_timeout_to_the_redis_transport(monkeypatch):
    import importlib

    import changemgmt.settings as live

    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/9")
    try:
        reloaded = importlib.reload(live)
        assert reloaded.CELERY_BROKER_TRANSPORT_OPTIONS == {
            "visibility_timeout": reloaded.CELERY_VISIBILITY_TIMEOUT
        }
        assert reloaded.CELERY_VISIBILITY_TIMEOUT < 3600
    finally:
        monkeypatch.undo()
        importlib.reload(live)
