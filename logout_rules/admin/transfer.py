"""Import and export buttons for the group-rule and user-rule admins (django-import-export).

Everything here is decided per admin, whatever the project's ``IMPORT_EXPORT_*`` settings say:

* formats: CSV, XLSX, JSON and YAML (``resources.FORMATS``);
* permissions: import needs the model's add *and* change permissions, export needs view; a row
  that deletes (the ``delete`` column) needs the delete permission too (a row error otherwise);
* the import always shows the preview (new / updated / unchanged / deleted rows) and writes
  nothing until it is confirmed; the confirmed import is all or nothing;
* every imported change gets an admin history entry with the old and new values;
* files larger than ``LOGOUT_RULES_IMPORT_MAX_BYTES`` are refused before they are read;
* the export has every column (a file describes its rules completely, see ``resources.py``).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportMixin
from import_export.forms import ExportForm, ImportForm
from import_export.results import Result

from ..conf import conf
from ..resources import FORMATS
from ..rulesets import record_result_history


class RuleImportForm(ImportForm):  # type: ignore[misc]
    def clean_import_file(self) -> Any:
        upload = self.cleaned_data["import_file"]
        limit = conf.IMPORT_MAX_BYTES
        if upload is not None and upload.size > limit:
            raise forms.ValidationError(
                _(
                    "This file is %(size)s bytes, more than the limit of %(limit)s bytes "
                    "(LOGOUT_RULES_IMPORT_MAX_BYTES)."
                ),
                code="too_large",
                params={"size": upload.size, "limit": limit},
            )
        return upload


class RuleImportExportMixin(ImportExportMixin):  # type: ignore[misc]
    """Mixed into a rule ``ModelAdmin`` (before it); set ``resource_classes`` on the admin."""

    import_form_class = RuleImportForm
    # Not the selectable-columns form: a column left out of a file means "the default" on import.
    export_form_class = ExportForm
    skip_import_confirm = False

    def get_import_formats(self) -> list[type[Any]]:
        return list(FORMATS)

    def get_export_formats(self) -> list[type[Any]]:
        return list(FORMATS)

    def is_skip_import_confirm_enabled(self) -> bool:
        return False

    def has_import_permission(self, request: HttpRequest) -> bool:
        return bool(self.has_add_permission(request) and self.has_change_permission(request))

    def has_export_permission(self, request: HttpRequest) -> bool:
        return bool(self.has_view_permission(request))

    def get_import_resource_kwargs(self, request: HttpRequest, **kwargs: Any) -> dict[str, Any]:
        """Rows with ``delete`` need the delete permission (checked again at confirmation)."""
        options: dict[str, Any] = super().get_import_resource_kwargs(request, **kwargs)
        options["may_delete"] = bool(self.has_delete_permission(request))
        return options

    def process_result(self, result: Result, request: HttpRequest) -> HttpResponse:
        # A row that fails at confirmation (the data changed since the preview) has rolled the
        # whole import back (the resources are all or nothing): say so, and record no history.
        if result.has_errors() or result.has_validation_errors():
            messages.error(
                request,
                _("Nothing was imported: the file no longer applies cleanly. Upload it again."),
            )
            app_label, model_name = self.get_model_info()
            url = reverse(
                f"admin:{app_label}_{model_name}_import", current_app=self.admin_site.name
            )
            return HttpResponseRedirect(url)
        response: HttpResponse = super().process_result(result, request)
        return response

    def generate_log_entries(self, result: Result, request: HttpRequest) -> None:
        """History entries even with ``IMPORT_EXPORT_SKIP_ADMIN_LOG`` (auditors rely on them)."""
        name = request.POST.get("original_file_name") or "a file"
        scope = str(self.model._meta.verbose_name_plural)
        record_result_history(request.user, scope, result, f"{name} (admin)")
