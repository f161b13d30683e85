"""A repository's General settings (admins only): descriptions, visibility, deleting a tag,
renaming or transferring, and deleting the repository (DESIGN §7)."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.models import Namespace
from registry.client import RegistryError

from . import activity
from .access import Permission, Principal, can_create_in, get_repository_or_404
from .deletion import delete_repository, delete_tag
from .models import Activity, Repository
from .names import validate_repository_name, validate_tag
from .rename import RenameError, rename_repository
from .views_pages import repository_header

# Tags offered for deletion by name on the page; any other can still be typed.
TAGS_SUGGESTED = 200


class DescriptionForm(forms.ModelForm):
    class Meta:
        model = Repository
        fields = ["description", "full_description"]
        labels = {"description": "Short description", "full_description": "README"}
        help_texts = {
            "description": "Up to 100 characters, shown in lists and search results.",
            "full_description": "Markdown, shown on the repository's page.",
        }
        widgets = {"full_description": forms.Textarea(attrs={"rows": 12})}


class VisibilityForm(forms.Form):
    visibility = forms.ChoiceField(
        choices=[("public", "Public"), ("private", "Private")], widget=forms.RadioSelect
    )


class DeleteTagForm(forms.Form):
    tag = forms.CharField(
        max_length=128,
        validators=[validate_tag],
        widget=forms.TextInput(attrs={"list": "tag-names", "autocomplete": "off"}),
    )


class RenameForm(forms.Form):
    namespace = forms.ModelChoiceField(
        queryset=Namespace.objects.none(),
        to_field_name="name",
        empty_label=None,
        error_messages={"invalid_choice": "Choose a namespace where you may create repositories."},
    )
    name = forms.CharField(max_length=224, validators=[validate_repository_name])

    def __init__(self, *args, repository: Repository, principal: Principal, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        allowed = [
            namespace.pk
            for namespace in Namespace.objects.order_by("name")
            if namespace.pk == repository.namespace_id or can_create_in(principal, namespace)
        ]
        self.fields["namespace"].queryset = Namespace.objects.filter(pk__in=allowed).order_by(
            "name"
        )
        self.fields["namespace"].initial = repository.namespace.name
        self.fields["name"].initial = repository.name


class DeleteRepositoryForm(forms.Form):
    confirm = forms.CharField(
        label="Repository name", widget=forms.TextInput(attrs={"autocomplete": "off"})
    )

    def __init__(self, *args, repository: Repository, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.repository = repository

    def clean_confirm(self) -> str:
        typed = self.cleaned_data["confirm"].strip()
        if typed != self.repository.full_name:
            raise forms.ValidationError(
                f"Type {self.repository.full_name} exactly to confirm the deletion."
            )
        return typed


def _principal(request: HttpRequest) -> Principal:
    return Principal(user=request.user)


def _administered(request: HttpRequest, namespace: str, name: str) -> Repository:
    """404 to those who cannot see the repository, 403 to those who see it without admin."""
    return get_repository_or_404(_principal(request), namespace, name, Permission.ADMIN)


def _general(repository: Repository) -> HttpResponse:
    return redirect("repos:settings", repository.namespace.name, repository.name)


def _render(
    request: HttpRequest, repository: Repository, status: int = 200, **forms
) -> HttpResponse:
    principal = _principal(request)
    context = {
        **repository_header(request, principal, repository, "settings"),
        "description_form": forms.get("description_form") or DescriptionForm(instance=repository),
        "visibility_form": VisibilityForm(
            initial={"visibility": "private" if repository.is_private else "public"}
        ),
        "tag_form": forms.get("tag_form") or DeleteTagForm(),
        "tags": repository.tags.order_by("-pushed_at").values_list("name", flat=True)[
            :TAGS_SUGGESTED
        ],
        "tag_count": repository.tags.count(),
        "rename_form": forms.get("rename_form")
        or RenameForm(repository=repository, principal=principal),
        "delete_form": DeleteRepositoryForm(repository=repository),
    }
    return render(request, "repos/settings_general.html", context, status=status)


@login_required
def settings_general(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    """The page, and saving the descriptions."""
    repository = _administered(request, namespace, name)
    if request.method != "POST":
        return _render(request, repository)
    form = DescriptionForm(request.POST, instance=repository)
    if not form.is_valid():
        return _render(request, repository, status=400, description_form=form)
    form.save()
    messages.success(request, "Descriptions saved.")
    return _general(repository)


@login_required
@require_POST
def settings_visibility(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    """Private or public, at once everywhere: pages, search, and the registry's token grants,
    which read the same row."""
    repository = _administered(request, namespace, name)
    form = VisibilityForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose public or private.")
        return _general(repository)
    is_private = form.cleaned_data["visibility"] == "private"
    if is_private != repository.is_private:
        with transaction.atomic():
            repository.is_private = is_private
            repository.save(update_fields=["is_private", "updated"])
            activity.record(
                Activity.Action.VISIBILITY_CHANGED,
                namespace=repository.namespace,
                repository=repository,
                actor=request.user,
                visibility="private" if is_private else "public",
            )
    shown = (
        "private: only people with access can see and pull it"
        if is_private
        else ("public: anyone can see and pull it")
    )
    messages.success(request, f"{repository.full_name} is now {shown}.")
    return _general(repository)


@login_required
@require_POST
def settings_delete_tag(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    repository = _administered(request, namespace, name)
    form = DeleteTagForm(request.POST)
    if not form.is_valid():
        return _render(request, repository, status=400, tag_form=form)
    tag = form.cleaned_data["tag"]
    try:
        deleted = delete_tag(repository, tag, request.user)
    except RegistryError:
        form.add_error(
            None, "The registry could not be reached; the tag is still there. Try again."
        )
        return _render(request, repository, status=503, tag_form=form)
    if not deleted:
        form.add_error("tag", f"{repository.full_name} has no tag {tag}.")
        return _render(request, repository, status=400, tag_form=form)
    messages.success(request, f"Deleted the tag {tag} of {repository.full_name}.")
    return _general(repository)


@login_required
@require_POST
def settings_rename(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    """A new name, or another namespace where the user may create repositories."""
    repository = _administered(request, namespace, name)
    principal = _principal(request)
    form = RenameForm(request.POST, repository=repository, principal=principal)
    if not form.is_valid():
        return _render(request, repository, status=400, rename_form=form)
    old = repository.full_name
    try:
        rename_repository(
            repository, form.cleaned_data["namespace"], form.cleaned_data["name"], request.user
        )
    except RenameError as error:
        form.add_error("name", str(error))
        return _render(request, repository, status=400, rename_form=form)
    except RegistryError:
        repository.refresh_from_db()
        form.add_error(None, "The registry could not be reached; nothing was moved. Try again.")
        return _render(request, repository, status=503, rename_form=form)
    messages.success(
        request,
        f"{old} is now {repository.full_name}: pull it as {repository.full_name}; "
        f"the old page address leads here.",
    )
    return _general(repository)


@login_required
def settings_delete(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    """Confirm by typing the full name; then the repository vanishes at once and a task
    empties the registry (DESIGN §7)."""
    repository = _administered(request, namespace, name)
    form = DeleteRepositoryForm(request.POST or None, repository=repository)
    if request.method != "POST" or not form.is_valid():
        status = 400 if request.method == "POST" else 200
        context = {
            **repository_header(request, _principal(request), repository, "settings"),
            "delete_form": form,
        }
        return render(request, "repos/settings_delete.html", context, status=status)
    with transaction.atomic():
        delete_repository(repository, actor=request.user)
    messages.success(
        request,
        f"{repository.full_name} was deleted. Its images are being removed from the registry.",
    )
    return redirect("home")
