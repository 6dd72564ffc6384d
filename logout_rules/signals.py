"""Signals this app sends (and nothing else: receivers live in ``receivers.py``)."""

from django.dispatch import Signal

#: Sent after every automatic logout, with ``user`` (the user who was logged out), ``request``,
#: ``reason`` (``"idle"``, ``"session"`` or ``"revoked"``), ``policy`` (the effective
#: ``logout_rules.policy.Policy``; for a revocation, ``policy.revocation`` says which) and
#: ``login_at`` (when the session logged in, epoch seconds; ``None`` when the session's stored
#: times were unusable). The sender is the user's model class.
auto_logout = Signal()
