"""The member's own screens: My Page, profile, download my data, withdrawal, invitation."""

import json
import uuid

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.tokens import default_token_generator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import urlsafe_base64_decode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from kizuna.accounts.models import User
from kizuna.core import mypage
from kizuna.crm.contacts import update_contact
from kizuna.crm.files import download_response
from kizuna.crm.models import FieldDefinition, FieldType, StoredFile
from kizuna.members.access import current_member, member_required
from kizuna.members.data_export import member_data
from kizuna.members.forms import AcceptInvitationForm, MemberProfileForm, WithdrawForm
from kizuna.members.models import MemberState
from kizuna.members.registration import accept_invitation as accept_invitation_operation
from kizuna.members.standing import withdraw_member


@login_required
def my_page(request):
    """Panels of every app, each given the member (None for staff without a membership)."""
    member = current_member(request)
    panels = []
    for panel in mypage.panels():
        values = panel.context(request, member)
        if values is not None:
            panels.append({"template": panel.template, **values})
    return render(request, "members/site/my_page.html", {"member": member, "panels": panels})


@member_required
@require_http_methods(["GET", "POST"])
def profile_edit(request):
    member = current_member(request)
    contact = member.contact
    form = MemberProfileForm(request.POST or None, request.FILES or None, instance=contact)
    if request.method == "POST" and form.is_valid():
        update_contact(form.instance, by=request.user, uploads=form.uploads)
        messages.success(request, _("Your profile has been saved."))
        return redirect("members_site:my_page")
    return render(request, "members/site/profile_form.html", {"form": form})


@member_required
def data_export(request):
    data = member_data(current_member(request))
    response = HttpResponse(
        json.dumps(data, ensure_ascii=False, indent=2, default=str),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = 'attachment; filename="my-data.json"'
    return response


@member_required
def my_file(request, key):
    """A file of the member's own profile, in a field staff made visible to members."""
    definition = (
        FieldDefinition.objects.for_contacts()
        .active()
        .filter(key=key, member_visible=True, type=FieldType.FILE)
        .first()
    )
    file_id = (current_member(request).contact.custom or {}).get(key) if definition else None
    stored = StoredFile.objects.filter(pk=file_id).first() if _is_uuid(file_id) else None
    if stored is None:
        raise Http404
    return download_response(stored)


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


@member_required
@require_http_methods(["GET", "POST"])
def withdraw(request):
    form = WithdrawForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        withdraw_member(
            current_member(request),
            reason=form.cleaned_data["reason"],
            request_erasure=form.cleaned_data["request_erasure"],
            request=request,
        )
        return render(request, "members/site/withdrawn.html")
    return render(request, "members/site/withdraw.html", {"form": form})


@require_http_methods(["GET", "POST"])
def accept_invitation(request, uidb64, token):
    user = _invited_user(uidb64)
    if user is None or not default_token_generator.check_token(user, token):
        return render(request, "members/site/invitation_invalid.html", status=400)
    form = AcceptInvitationForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        accept_invitation_operation(user, form.cleaned_data["new_password1"], request=request)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, _("Welcome! Your membership is active."))
        return redirect("members_site:my_page")
    return render(request, "members/site/accept_invitation.html", {"form": form, "user": user})


def _invited_user(uidb64: str) -> User | None:
    try:
        pk = int(urlsafe_base64_decode(uidb64).decode())
    except (ValueError, TypeError, UnicodeDecodeError):
        return None
    user = User.objects.filter(pk=pk, is_active=True, member__isnull=False).first()
    if user is None or user.member.state != MemberState.PENDING_VERIFICATION:
        return None
    return user
