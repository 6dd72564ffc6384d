"""Import and export buttons for the group-rule and user-rule admins (django-import-export).

Everything here is decided per admin, whatever the project's ``IMPORT_EXPORT_*`` settings say:

* formats: CSV, XLSX, JSON and YAML (``resources.FORMATS``), those whose package is installed;
* every file is read within the bounds of ``reading.py`` (size, rows, columns, cells, nesting),
  at the preview and again at the confirmation; a refused file shows why, and writes nothing;
* a confirmation whose hidden fields were tampered with (an unknown format, a file that is no
  longer there) is refused with a message, never a 500;
* permissions: import needs the model's add *and* change permissions, export needs view; a row
  that deletes (the ``delete`` column) needs the delete permission too (a row error otherwise);
* the import always shows the preview (new / updated / unchanged / deleted rows) and writes
  nothing until it is confirmed; the confirmed import is all or nothing;
* every imported change gets an admin history entry with the old and new values;
* files larger than ``LOGOUT_RULES_IMPORT_MAX_BYTES`` are refused before they are read;
* the export has every column (a file describes its rules completely, see ``resources.py``).
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportMixin
from import_export.forms import ExportForm, ImportForm
from import_export.results import Result
from import_export.tmp_storages import TempFolderStorage

from ..reading import FileRefused, check_size
from ..resources import available_formats
from ..rulesets import record_result_history

NO_LONGER_THERE = "The uploaded file is no longer there."


def _index_below(value: str, count: int) -> bool:
    """Whether a submitted list index (ASCII digits only) is one of ``count`` choices."""
    return value.isascii() and value.isdigit() and int(value) < count


class RuleImportForm(ImportForm):  # type: ignore[misc]
    def clean_import_file(self) -> Any:
        upload = self.cleaned_data["import_file"]
        if upload is not None:
            try:
                check_size(upload.size)
            except FileRefused as exc:
                raise forms.ValidationError(str(exc), code="too_large") from None
        return upload


class RuleImportExportMixin(ImportExportMixin):  # type: ignore[misc]
    """Mixed into a rule ``ModelAdmin`` (before it); set ``resource_classes`` on the admin."""

    import_form_class = RuleImportForm
    # Not the selectable-columns form: a column left out of a file means "the default" on import.
    export_form_class = ExportForm
    skip_import_confirm = False

    def get_import_formats(self) -> list[type[Any]]:
        return available_formats()

    def get_export_formats(self) -> list[type[Any]]:
        return available_formats()

    def add_data_read_fail_error_to_form(self, form: forms.Form, e: Exception) -> None:
        """A refused file says why (its message is safe to show); other errors stay generic."""
        if isinstance(e, FileRefused):
            form.add_error("import_file", str(e))
        else:
            super().add_data_read_fail_error_to_form(form, e)

    def process_import(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        """The confirmation: its hidden fields come back from the browser, so they are checked
        (the format, the stored file's size) and a file that cannot be read again is refused
        with a message instead of a 500. Nothing is written in either case."""
        if request.method == "POST" and self.has_import_permission(request):
            problem = self.confirmation_problem(request)
            if problem is not None:
                return self.refuse_confirmation(request, problem)
            try:
                response: HttpResponse = super().process_import(request, **kwargs)
            except FileRefused as exc:
                return self.refuse_confirmation(request, str(exc))
            except OSError:
                return self.refuse_confirmation(request, NO_LONGER_THERE)
            return response
        refused: HttpResponse = super().process_import(request, **kwargs)  # 403 / 405
        return refused

    def confirmation_problem(self, request: HttpRequest) -> str | None:
        """What is wrong with a confirmation's hidden fields, if anything."""
        index = request.POST.get("format", "")
        if not _index_below(index, len(self.get_import_formats())):
            return str(_("Unknown file format."))
        resource = request.POST.get("resource", "")
        if resource and not _index_below(resource, len(self.get_import_resource_classes(request))):
            return str(_("Unknown kind of rules."))
        storage = self.get_tmp_storage_class()
        if issubclass(storage, TempFolderStorage):
            name = os.path.basename(request.POST.get("import_file_name", ""))
            path = os.path.join(tempfile.gettempdir(), name)
            if not name or not os.path.isfile(path):
                return NO_LONGER_THERE
            try:
                check_size(os.path.getsize(path))
            except FileRefused as exc:
                return str(exc)
        return None

    def refuse_confirmation(self, request: HttpRequest, problem: str) -> HttpResponse:
        messages.error(
            request,
            _("Nothing was imported: %(problem)s Upload the file again.") % {"problem": problem},
        )
        return HttpResponseRedirect(self.import_url())

    def import_url(self) -> str:
        app_label, model_name = self.get_model_info()
        return reverse(f"admin:{app_label}_{model_name}_import", current_app=self.admin_site.name)

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
            return HttpResponseRedirect(self.import_url())
        response: HttpResponse = super().process_result(result, request)
        return response

    def generate_log_entries(self, result: Result, request: HttpRequest) -> None:
        """History entries even with ``IMPORT_EXPORT_SKIP_ADMIN_LOG`` (auditors rely on them)."""
        name = request.POST.get("original_file_name") or "a file"
        scope = str(self.model._meta.verbose_name_plural)
        record_result_history(request.user, scope, result, f"{name} (admin)")
