"""The rule form shared by the three admins.

* Durations are typed the way the lists show them (``15m``, ``1h 30m``, ``2 hours``, ``00:15:00``,
  ``PT15M``: ``durations.parse_duration``), and a stored value is shown in that same notation, so
  what a form shows can be typed back. A bare number is an error that names the fix ("Add a unit,
  e.g. 15m or 15s."): ``15`` meant minutes more often than seconds.
* An idle or session time under one minute (new or changed) is saved only when the admin ticks
  "Yes, under a minute"; the box appears with the error.
* Limits above a site-wide ceiling (``LOGOUT_RULES_MAX_*``) are refused by the model's validation
  (``LogoutRuleFields.clean_fields``, shared with the imports); the help texts name the ceiling.
* The message is an explicit choice (inherit / no message / this text), because an empty text box
  cannot say which of "inherit" and "no message" the admin meant. Text typed while "Inherit" or
  "Explicitly no message" is chosen is refused rather than silently thrown away.
* The redirect flag's select says "Inherit", as the README does (Django's default says "Unknown").
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from .. import durations, policy
from ..conf import conf
from ..models import LogoutRuleFields

MESSAGE_INHERIT = "inherit"
MESSAGE_NONE = "none"
MESSAGE_CUSTOM = "custom"

#: The idle and session times shorter than this need the confirmation box.
SHORT_LIMIT = timedelta(minutes=1)
CONFIRM_SHORT_FIELD = "confirm_under_a_minute"

#: The duration fields' help texts (each with examples of what can be typed), from the model.
DURATION_HELP = {
    name: LogoutRuleFields._meta.get_field(name).help_text  # type: ignore[union-attr]
    for name in policy.DURATION_FIELDS
}


class HumanDurationField(forms.DurationField):
    """A duration typed with units; shown as the lists show it (``1h 30m``)."""

    default_error_messages = {
        durations.INVALID: _("Enter a valid duration, e.g. 15m, 1h 30m, 2 hours or 00:15:00."),
        durations.BARE_NUMBER: _("Add a unit, e.g. 15m or 15s."),
        durations.MONTHS_OR_YEARS: _(
            "Months and years are not units (their length varies): use days or weeks, "
            "e.g. 30d or 4w."
        ),
        durations.TOO_LONG: _("Enter a duration of at most %(max)s days."),
    }

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, timedelta):
            return durations.format_duration(value)
        return value

    def to_python(self, value: Any) -> timedelta | None:
        if isinstance(value, timedelta):
            return value
        if value is None or not str(value).strip():
            return None
        try:
            return durations.parse_duration(str(value))
        except durations.DurationError as exc:
            raise ValidationError(
                self.error_messages[exc.code],
                code=exc.code,
                params={"max": durations.MAX_DURATION.days},
            ) from None


class InheritNullBooleanSelect(forms.NullBooleanSelect):
    """Inherit / Yes / No (the values stay Django's: ``unknown``, ``true``, ``false``)."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        self.choices = [("unknown", _("Inherit")), ("true", _("Yes")), ("false", _("No"))]


class RuleForm(forms.ModelForm):  # type: ignore[type-arg]
    message_mode = forms.ChoiceField(
        label=_("Logout message"),
        choices=[
            (MESSAGE_INHERIT, _("Inherit")),
            (MESSAGE_NONE, _("Explicitly no message")),
            (MESSAGE_CUSTOM, _("This message:")),
        ],
        initial=MESSAGE_INHERIT,
        widget=forms.RadioSelect,
    )
    confirm_under_a_minute = forms.BooleanField(
        label=_("Yes, under a minute"),
        required=False,
        # Shown (as a checkbox) only with the error that asks for it; see ``_confirm_short``.
        widget=forms.HiddenInput,
        help_text=_("Tick to save an idle or session time shorter than one minute."),
    )

    class Meta:
        field_classes = dict.fromkeys(policy.DURATION_FIELDS, HumanDurationField)
        widgets = {"redirect_to_login_immediately": InheritNullBooleanSelect}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "message" in self.fields:
            self.fields["message"].required = False
            self.fields["message"].label = _("Message text")
        for name in policy.LIMIT_FIELDS:
            ceiling = conf.ceilings.get(name)
            if name in self.fields and ceiling is not None:
                self.fields[name].help_text = format_lazy(
                    "{} {}",
                    DURATION_HELP[name],
                    _("At most %(ceiling)s: the site's ceiling %(setting)s.")
                    % {
                        "ceiling": durations.format_duration(ceiling),
                        "setting": policy.CEILING_SETTINGS[name],
                    },
                )
        current = self.instance.message if self.instance and self.instance.pk else None
        if current is None:
            self.initial.setdefault("message_mode", MESSAGE_INHERIT)
        elif current == "":
            self.initial.setdefault("message_mode", MESSAGE_NONE)
        else:
            self.initial.setdefault("message_mode", MESSAGE_CUSTOM)

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        self._confirm_short(cleaned)
        mode = cleaned.get("message_mode")
        text = cleaned.get("message")
        typed = str(text).strip() if text else ""
        if mode in (MESSAGE_INHERIT, MESSAGE_NONE) and typed and "message" in self.changed_data:
            # Text left over from a stored message (the admin switched the choice) is dropped;
            # text typed now would be lost without a word: ask instead.
            choice = _("Inherit") if mode == MESSAGE_INHERIT else _("Explicitly no message")
            self.add_error(
                "message",
                ValidationError(
                    _(
                        'You typed a message but chose "%(choice)s", which would throw it away. '
                        'Choose "This message:" to use it, or clear the text.'
                    ),
                    code="message_ignored",
                    params={"choice": choice},
                ),
            )
        elif mode == MESSAGE_INHERIT:
            cleaned["message"] = None
        elif mode == MESSAGE_NONE:
            cleaned["message"] = ""
        elif mode == MESSAGE_CUSTOM:
            if not typed:
                self.add_error("message", _("Enter the message, or choose another option."))
            else:
                cleaned["message"] = typed
        return cleaned

    def _confirm_short(self, cleaned: dict[str, Any]) -> None:
        """Refuse a new or changed idle/session time under a minute unless the box is ticked."""
        if cleaned.get(CONFIRM_SHORT_FIELD):
            return
        short = False
        for name in policy.LIMIT_FIELDS:
            value = cleaned.get(name)
            if value is None or not (timedelta(0) < value < SHORT_LIMIT):
                continue
            if name not in self.changed_data:
                continue
            short = True
            self.add_error(
                name,
                ValidationError(
                    _(
                        "%(value)s is under a minute: is that what you meant? Tick "
                        '"Yes, under a minute" below to save it.'
                    ),
                    code="under_a_minute",
                    params={"value": durations.format_duration(value)},
                ),
            )
        if short and CONFIRM_SHORT_FIELD in self.fields:
            self.fields[CONFIRM_SHORT_FIELD].widget = forms.CheckboxInput()

    def _post_clean(self) -> None:
        # The model field is nullable: make sure the choice above, not the text box, decides.
        if "message" in self.cleaned_data:
            self.instance.message = self.cleaned_data["message"]
        super()._post_clean()  # type: ignore[misc]
