"""Fixtures for tests that cross process boundaries: a real SMTP server and Celery worker."""

from __future__ import annotations

import pytest

from tests.integration.worker import running_worker
from tests.mailsink import MailSink


@pytest.fixture
def mail_sink(settings):
    """An SMTP server on a free port; every mailer sends to it for this test."""
    with MailSink() as sink:
        settings.MAILERS = sink.mailers()
        yield sink


@pytest.fixture
def celery_worker(mail_sink):
    """A Celery worker thread consuming from the broker (eager mode off meanwhile).

    Depends on ``mail_sink`` so the sink outlives the worker: a task still
    running at shutdown can finish its delivery.
    """
    with running_worker() as worker:
        yield worker
