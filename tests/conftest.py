import contextlib
import os
import shutil

import pytest

from changemgmt import roles
from changemgmt.audit import chain
from tests.factories import UserFactory

# Every history row whose audit values are taken from memory is also read back and compared.
chain.CHECK_ECHO = True

# Playwright runs an event loop in the test thread; Django refuses ORM calls there unless told.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


@pytest.fixture
def root(db):
    """A superuser: the admin's only audience."""
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(client, root):
    client.force_login(root)
    return client


@pytest.fixture(autouse=True)
def _isolated_checkpoints(settings, tmp_path):
    # Each test signs with its own checkpoint key into its own sink, never the developer's var/.
    settings.AUDIT_CHECKPOINT_KEY = str(tmp_path / "audit-checkpoint-key.pem")
    settings.AUDIT_CHECKPOINT_FILE = str(tmp_path / "audit-checkpoints.jsonl")
    settings.AUDIT_CHECKPOINT_WEBHOOK = ""


@pytest.fixture(autouse=True)
def _isolated_cache(settings, tmp_path):
    # Each test gets its own cache so the policy document and ETags never leak between tests.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": str(tmp_path),
        }
    }
    settings.AXES_ENABLED = False
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # Most tests run inside a transaction that another thread cannot see: their emails go out on
    # the caller's thread. tests/audit/test_email_background.py runs the background sender.
    settings.NOTIFY_EMAIL_BACKGROUND = False
    # Every persona and factory user hashes a password: PBKDF2 costs ~0.5 s each on CI.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _persona(role):
    @pytest.fixture
    def fixture(db):
        return UserFactory(username=role, roles=[role])

    return fixture


author = _persona(roles.AUTHOR)
release_manager = _persona(roles.RELEASE_MANAGER)
cab_platform = _persona(roles.CAB_PLATFORM)
cab_feature = _persona(roles.CAB_FEATURE)
cab_risk = _persona(roles.CAB_RISK)
cab_customer = _persona(roles.CAB_CUSTOMER)
exec_approver = _persona(roles.EXEC_APPROVER)
platform_team = _persona(roles.PLATFORM_TEAM)
feature_owner = _persona(roles.FEATURE_OWNER)
support_eng = _persona(roles.SUPPORT_ENG)
auditor = _persona(roles.AUDITOR)
gateway = _persona(roles.GATEWAY)


@pytest.fixture
def outsider(db):
    return UserFactory(username="outsider")


@pytest.fixture
def select_guards(request):
    """`select_guards(names, on=transitions)`: for this test only the registered guards named
    in `names` take part on those transitions (every one when `on` is left out), through the
    guards' public selection (changemgmt.tickets.guards.select)."""
    from changemgmt.tickets import guards

    def apply(names, *, on=None):
        request.addfinalizer(guards.select(names, on=on))

    return apply


@pytest.fixture
def cab(cab_platform, cab_feature, cab_risk, cab_customer):
    return {
        roles.CAB_PLATFORM: cab_platform,
        roles.CAB_FEATURE: cab_feature,
        roles.CAB_RISK: cab_risk,
        roles.CAB_CUSTOMER: cab_customer,
    }


# ----- real browser (pytest-playwright on the system Chromium) -----


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres"):
        from django.conf import settings

        if not settings.DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql"):
            pytest.skip("needs PostgreSQL (run with DATABASE_URL=postgres://…)")


def reset_celery_connections():
    """Forget every pooled broker connection and every queue selection before pointing Celery at
    another broker.

    kombu keeps connection and producer pools in global registries keyed by broker URL; a pool
    closed by one test (a drill that kills its Redis) would otherwise be handed to the next. The
    app's AMQP object caches its queues, and a worker started with `queues=[...]` narrows them for
    good: the next test's worker would consume only the last test's queue."""
    import kombu.pools

    from changemgmt.celery import app

    kombu.pools.reset()
    app._pool = None
    app.__dict__.pop("amqp", None)


@contextlib.contextmanager
def celery_test_broker(folder, queue: str):
    """Point the Celery app at the configured broker for a real worker test: Redis when
    REDIS_URL is set, else the filesystem:// transport in `folder`; tasks go to `queue` alone,
    so a worker of this test never takes (or leaves) another test's messages."""
    from django.conf import settings

    from changemgmt.celery import app

    keys = ("broker_url", "broker_transport_options", "task_default_queue")
    saved = {key: app.conf.get(key) for key in keys}
    if settings.REDIS_URL:
        app.conf.broker_url = settings.REDIS_URL
    else:
        for name in ("queue", "processed", "control"):
            (folder / name).mkdir(exist_ok=True)
        app.conf.broker_url = "filesystem://"
        app.conf.broker_transport_options = {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
        }
    app.conf.task_default_queue = queue
    reset_celery_connections()
    try:
        yield app
    finally:
        for key, value in saved.items():
            app.conf[key] = value
        reset_celery_connections()


class TaskFinishes:
    """The return values of one task as a worker finishes it, to wait on (bounded)."""

    def __init__(self, task_name: str):
        import threading

        self.task_name = task_name
        self.results = []
        self._done = threading.Condition()

    def __call__(self, task=None, retval=None, **kwargs):  # celery's task_postrun
        if task is not None and task.name == self.task_name:
            with self._done:
                self.results.append(retval)
                self._done.notify_all()

    def wait(self, count=1, *, since=0, timeout=30):
        import time

        deadline = time.monotonic() + timeout
        with self._done:
            while len(self.results) - since < count:
                left = deadline - time.monotonic()
                ran = len(self.results) - since
                assert left > 0, (
                    f"the worker finished {ran} of {count} {self.task_name} in {timeout}s"
                )
                self._done.wait(left)
        return self.results[since : since + count]


@contextlib.contextmanager
def real_worker(folder, queue_prefix: str, task):
    """An in-process Celery worker (solo pool) on the test broker and a queue of its own:
    yields (queue, TaskFinishes of `task`)."""
    import uuid

    from celery.contrib.testing.worker import start_worker
    from celery.signals import task_postrun

    queue = f"{queue_prefix}-{uuid.uuid4().hex[:10]}"
    finishes = TaskFinishes(task.name)
    task_postrun.connect(finishes, weak=False)
    try:
        with (
            celery_test_broker(folder, queue) as app,
            start_worker(
                app, perform_ping_check=False, pool="solo", queues=[queue], loglevel="WARNING"
            ),
        ):
            yield queue, finishes
    finally:
        task_postrun.disconnect(finishes)
