"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives for the tests."""

import email
import email.policy
import re
import threading
import time
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from tests.support.processes import free_port


class Mailbox:
    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self._lock = threading.Lock()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd hook
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()

    def wait_for(self, to: str, count: int = 1, timeout: float = 15.0) -> list[EmailMessage]:
        """The messages sent to `to`, once there are at least `count` of them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = [m for m in self.messages if to in m["To"]]
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(f"no mail to {to} within {timeout}s; got {len(found)}")

    @staticmethod
    def body(message: EmailMessage) -> str:
        return message.get_body(preferencelist=("plain", "html")).get_content()

    @classmethod
    def link(cls, message: EmailMessage, pattern: str = r"https?://\S+") -> str:
        match = re.search(pattern, cls.body(message))
        assert match, f"no link matching {pattern} in:\n{cls.body(message)}"
        return match.group(0)
