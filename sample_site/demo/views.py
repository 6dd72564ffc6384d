from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from logout_rules.resolver import explain


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "demo/home.html", {"explanation": explain(request.user.pk)})


class NoteForm(forms.Form):
    title = forms.CharField(max_length=100)
    body = forms.CharField(widget=forms.Textarea, required=False)


@login_required
def form_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = NoteForm(request.POST)
        if form.is_valid():
            messages.success(request, f"Saved “{form.cleaned_data['title']}”.")
            return redirect("form")
    else:
        form = NoteForm()
    return render(request, "demo/form.html", {"form": form})
