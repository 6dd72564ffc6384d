"""The rule form shared by the three admins: durations validated by the model, and an explicit
choice for the message (inherit / no message / this text), because an empty text box cannot say
which of "inherit" and "no message" the admin meant."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

MESSAGE_INHERIT = "inherit"
MESSAGE_NONE = "none"
MESSAGE_CUSTOM = "custom"


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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "message" in self.fields:
            self.fields["message"].required = False
            self.fields["message"].label = _("Message text")
        current = self.instance.message if self.instance and self.instance.pk else None
        if current is None:
            self.initial.setdefault("message_mode", MESSAGE_INHERIT)
        elif current == "":
            self.initial.setdefault("message_mode", MESSAGE_NONE)
        else:
            self.initial.setdefault("message_mode", MESSAGE_CUSTOM)

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        mode = cleaned.get("message_mode")
        text = cleaned.get("message")
        if mode == MESSAGE_INHERIT:
            cleaned["message"] = None
        elif mode == MESSAGE_NONE:
            cleaned["message"] = ""
        elif mode == MESSAGE_CUSTOM:
            if not text or not str(text).strip():
                self.add_error("message", _("Enter the message, or choose another option."))
            else:
                cleaned["message"] = str(text).strip()
        return cleaned

    def _post_clean(self) -> None:
        # The model field is nullable: make sure the choice above, not the text box, decides.
        if "message" in self.cleaned_data:
            self.instance.message = self.cleaned_data["message"]
        super()._post_clean()  # type: ignore[misc]
