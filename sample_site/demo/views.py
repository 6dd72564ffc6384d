from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from logout_rules.resolver import explain


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "demo/home.html", {"explanation": explain(request.user.pk)})


class NoteForm(forms.Form):
    title = forms.CharField(max_length=100)
    body = forms.CharField(widget=forms.Textarea, required=False)


@login_required
def form_page(request: HttpRequest) -> HttpResponse:
    """Answers a valid POST with a page, not a redirect: the page a browser would post again on
    reload. The automatic logout leaves it with a GET."""
    saved = ""
    if request.method == "POST":
        form = NoteForm(request.POST)
        if form.is_valid():
            saved = form.cleaned_data["title"]
            form = NoteForm()
    else:
        form = NoteForm()
    return render(request, "demo/form.html", {"form": form, "saved": saved})
