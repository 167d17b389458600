"""A real SMTP server for tests: messages Django sends land here, parsed.

    with MailSink() as sink:
        settings.MAILERS = sink.mailers()
        ...
        message = sink.wait_for(1)          # the first message, waiting up to 10 s

``MailSink(refuse_first=2)`` answers the first two messages with a temporary
4xx error at DATA (the client sees ``smtplib.SMTPDataError``), then accepts:
enough to test that a sender retries transient failures.
"""

from __future__ import annotations

import email
import email.policy
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller

# aiosmtpd logs every SMTP command at INFO: too chatty for a failing test's output.
logging.getLogger("mail.log").setLevel(logging.WARNING)

TEMPORARY_FAILURE = "451 4.3.0 Mailbox busy, try again later"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class _Handler:
    refuse_first: int = 0
    refuse_reply: str = TEMPORARY_FAILURE
    received: list[Received] = field(default_factory=list)
    refused: int = 0
    changed: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server, session, envelope) -> str:
        with self.changed:
            if self.refused < self.refuse_first:
                self.refused += 1
                self.changed.notify_all()
                return self.refuse_reply
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
            self.changed.notify_all()
        return "250 2.0.0 OK"


class MailSink:
    """An aiosmtpd server on 127.0.0.1 and a free port, in its own thread."""

    def __init__(self, *, refuse_first: int = 0, refuse_reply: str = TEMPORARY_FAILURE) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self._handler = _Handler(refuse_first=refuse_first, refuse_reply=refuse_reply)
        self._controller: Controller | None = None

    # Lifecycle -------------------------------------------------------------

    def start(self) -> MailSink:
        # The port is chosen, freed, then bound by aiosmtpd: another process
        # could take it in between, so try a few times.
        for attempt in range(5):
            self.port = free_port(self.host)
            controller = Controller(self._handler, hostname=self.host, port=self.port)
            try:
                controller.start()
            except (OSError, RuntimeError):
                if attempt == 4:
                    raise
                continue
            self._controller = controller
            return self
        raise AssertionError("unreachable")

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> MailSink:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # Use -------------------------------------------------------------------

    def mailers(self, timeout: int = 10) -> dict:
        """A ``MAILERS`` setting that sends to this sink."""
        return {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": self.host, "port": self.port, "timeout": timeout},
            }
        }

    @property
    def received(self) -> list[Received]:
        with self._handler.changed:
            return list(self._handler.received)

    @property
    def messages(self) -> list[EmailMessage]:
        return [item.message for item in self.received]

    @property
    def refused(self) -> int:
        """How many messages were answered with the temporary failure so far."""
        with self._handler.changed:
            return self._handler.refused

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> EmailMessage:
        """Wait until ``count`` messages have arrived; return the ``count``-th (1-based)."""
        deadline = time.monotonic() + timeout
        with self._handler.changed:
            while len(self._handler.received) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"Expected {count} message(s) within {timeout} s, "
                        f"got {len(self._handler.received)} "
                        f"(refused {self._handler.refused})."
                    )
                self._handler.changed.wait(remaining)
            return self._handler.received[count - 1].message

    def wait_for_message(
        self,
        *,
        to: str | None = None,
        subject: str | None = None,
        contains: str | None = None,
        timeout: float = 10.0,
    ) -> EmailMessage:
        """Wait for the first message to ``to`` whose subject, and whose text, contain these."""

        def matches(item: Received) -> bool:
            return (
                (to is None or to in item.rcpt_tos)
                and (subject is None or subject in str(item.message["Subject"]))
                and (contains is None or contains in decoded_text(item.message))
            )

        deadline = time.monotonic() + timeout
        with self._handler.changed:
            while True:
                for item in self._handler.received:
                    if matches(item):
                        return item.message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(i.rcpt_tos, str(i.message["Subject"])) for i in self._handler.received]
                    raise AssertionError(
                        f"No message to {to!r} with subject {subject!r} containing {contains!r} "
                        f"within {timeout} s; received: {seen}"
                    )
                self._handler.changed.wait(remaining)


def decoded_text(message: EmailMessage) -> str:
    """Every text part of the message, decoded, joined."""
    return "\n".join(
        part.get_content() for part in message.walk() if part.get_content_maintype() == "text"
    )


def text_and_html(message: EmailMessage) -> tuple[str, str]:
    """The plain-text and HTML bodies of a multipart/alternative message."""
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None, "no text/plain part"
    assert html is not None, "no text/html part"
    return text.get_content(), html.get_content()
