"""Retries with exponential backoff for tasks that ask for them.

django.tasks has no retries of its own, so a task that may fail for a passing reason (an SMTP
server away, a provider's rate limit) says so with this decorator, under @task:

    @task
    @retry_with_backoff(attempts=5, first_delay=timedelta(seconds=30))
    def deliver(delivery_id): ...

A failed attempt is recorded as failed, and the next one is enqueued to run after 30 s, 60 s,
120 s... through the same backend, so it works on the database backend and on Huey alike.
"""

import functools
import logging
from datetime import timedelta

from django.utils import timezone
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


def retry_with_backoff(
    *,
    attempts: int,
    first_delay: timedelta = timedelta(seconds=30),
    retry_on: tuple[type[BaseException], ...] = (Exception,),
):
    if attempts < 2:
        raise ValueError("retry_with_backoff needs at least 2 attempts.")

    def decorate(func):
        @functools.wraps(func)
        def attempt(*args, retry_attempt: int = 1, **kwargs):
            try:
                return func(*args, **kwargs)
            except retry_on as error:
                if retry_attempt >= attempts:
                    logger.error(
                        "%s failed for good after %d attempts", func.__qualname__, attempts
                    )
                    raise
                delay = first_delay * 2 ** (retry_attempt - 1)
                this_task = import_string(f"{func.__module__}.{func.__qualname__}")
                this_task.using(run_after=timezone.now() + delay).enqueue(
                    *args, retry_attempt=retry_attempt + 1, **kwargs
                )
                logger.warning(
                    "%s failed (attempt %d of %d, %s); trying again in %s",
                    func.__qualname__,
                    retry_attempt,
                    attempts,
                    type(error).__name__,
                    delay,
                )
                raise

        return attempt

    return decorate
