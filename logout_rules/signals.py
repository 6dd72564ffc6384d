"""Signals this app sends (and nothing else: receivers live in ``receivers.py``)."""

from django.dispatch import Signal

#: Sent after every automatic logout, with ``user`` (the user who was logged out), ``request``,
#: ``reason`` (``"idle"`` or ``"session"``) and ``policy`` (the effective
#: ``logout_rules.policy.Policy``). The sender is the user's model class.
auto_logout = Signal()
