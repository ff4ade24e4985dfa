from celery import shared_task
from django.conf import settings

from .delivery import post_webhook_now
from .outbox import sweep_outbox


@shared_task(
    bind=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    # Below the broker's visibility timeout: a longer countdown would be redelivered while it waits.
    retry_backoff_max=settings.CELERY_MAX_RETRY_COUNTDOWN,
    retry_jitter=True,
    max_retries=5,
    acks_late=True,
)
def post_webhook(self, notification_id: int):
    """POST the notification as JSON to NOTIFY_WEBHOOK_URL; Celery retries a failure with backoff."""
    post_webhook_now(notification_id, final_attempt=self.request.retries >= self.max_retries)


@shared_task(ignore_result=True)
def sweep_notification_outbox():
    """Queue webhook posts that could not be queued (broker down) or whose message was lost."""
    return sweep_outbox()


@shared_task(ignore_result=True)
def audit_checkpoint():
    """Sign the chain's head into the checkpoint sink (beat, every AUDIT_CHECKPOINT_INTERVAL)."""
    from .checkpoints import checkpoint_now

    return checkpoint_now().seq
