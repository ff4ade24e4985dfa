"""Thin Celery tasks: the sweepers' bodies live in services and gamedays."""

from celery import shared_task

from . import gamedays, services


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=3)
def sweep_tenant_switch_expiry() -> dict:
    return services.sweep_tenant_expiry()


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=3)
def plan_game_days() -> dict:
    return gamedays.plan_game_days()
