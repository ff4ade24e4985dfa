import os

from celery import Celery
from celery.signals import worker_init, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "changemgmt.settings")

app = Celery("changemgmt")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# True in a Celery worker's processes. Prefork children end with os._exit, which waits for no
# thread, so notification emails go out inline there (a task is not a request) instead of on the
# background thread a web process uses (changemgmt.audit.delivery).
in_worker = False


@worker_init.connect
@worker_process_init.connect
def _in_a_worker(**kwargs):
    global in_worker
    in_worker = True
