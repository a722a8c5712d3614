"""Notices (Textual's toasts) about work under way: one says the work started and stays while it
runs, and its outcome replaces it, so "moving …" never lingers under "moved …"."""

from __future__ import annotations

from textual.notifications import Notification, Notify

# how long a notice about work under way may stay if no outcome comes (a move waits up to 120 s for
# the job to restart: Platform.reassign's wait); the outcome normally replaces it well before
UNDER_WAY_SECONDS = 150.0


def notify_under_way(app, message: str) -> Notification:
    """Show `message` until `notify_outcome` replaces it (or UNDER_WAY_SECONDS pass). Thread-safe,
    as App.notify is: the notice is posted to the app's queue."""
    notification = Notification(message, timeout=UNDER_WAY_SECONDS, markup=False)
    app.post_message(Notify(notification))
    return notification


def notify_outcome(app, under_way: Notification | None, message: str, severity: str = "information") -> None:
    """Replace the notice `under_way` with the outcome (on the app's thread: call_from_thread from a
    worker). The withdrawal is queued as a message (call_later), after the notice's own Notify: a
    worker that answers at once runs here before the app has shown the notice it withdraws. Textual
    has no public call to withdraw one notice; `_unnotify` is what a toast calls when clicked away."""
    if under_way is not None:
        app.call_later(app._unnotify, under_way)
    app.notify(message, severity=severity, markup=False)
