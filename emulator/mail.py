"""Job emails: `email_on_success` / `email_on_failure` write a real message to the local outbox
(an mbox under the emulator home) and, when $CYCLE_SMTP_HOST is set, send it there too."""

from __future__ import annotations

import mailbox
import smtplib
import time
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

from emulator.settings import load

LAST_LINES = 20


def outbox_path(home: Path) -> Path:
    return home / "outbox.mbox"


def compose(job, lines: list[str], recipient: str) -> EmailMessage:
    seconds = job.run_seconds(time.time_ns())  # the measure `job status` and the TUI show
    message = EmailMessage()
    message["Subject"] = f"[cycle] job {job.name} {job.state.value}" + (f" ({job.reason})" if job.reason else "")
    message["From"] = "cycle-emulator@localhost"
    message["To"] = recipient
    message["Date"] = formatdate(job.finished_ns / 1e9 if job.finished_ns else None, usegmt=True)
    body = [
        f"Job:      {job.name}",
        f"Project:  {job.project}",
        f"State:    {job.state.value}",
        f"Reason:   {job.reason or '-'}",
        f"Duration: {'-' if seconds is None else f'{seconds:.1f} s'}",
        f"Machine:  {job.machine or '-'}",
        "",
        f"Last {len(lines)} log lines:",
        *lines,
    ]
    message.set_content("\n".join(body) + "\n")
    return message


def deliver(home: Path, message: EmailMessage) -> str:
    """Append to the outbox; send through SMTP when configured. Returns where it went."""
    box = mailbox.mbox(outbox_path(home))
    box.lock()
    try:
        box.add(message)
        box.flush()
    finally:
        box.unlock()
        box.close()
    host = load().smtp_host
    if not host:
        return f"outbox {outbox_path(home)}"
    server, _, port = host.partition(":")
    with smtplib.SMTP(server, int(port or 25), timeout=10) as smtp:
        smtp.send_message(message)
    return f"outbox {outbox_path(home)} and SMTP {host}"


def read_outbox(home: Path) -> list[dict]:
    path = outbox_path(home)
    if not path.exists():
        return []
    box = mailbox.mbox(path)
    try:
        return [{"date": m["Date"], "to": m["To"], "subject": m["Subject"], "body": m.get_payload()} for m in box]
    finally:
        box.close()
