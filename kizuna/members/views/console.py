"""Members in the console: the list, a member's page with its actions, the approval queue,
inviting, registration settings and tiers.

Every action calls the domain operation (registration.py, standing.py, inviting.py); a
MembershipError comes back as a message on the page the action was started from."""

from functools import partial

from allauth.account.models import EmailAddress
from allauth.core import ratelimit
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from kizuna.core.access import staff_required
from kizuna.core.models import SiteSettings
from kizuna.crm import fields
from kizuna.crm.filtering import FilterError
from kizuna.crm.models import Contact, FieldDefinition
from kizuna.crm.search import search_contacts
from kizuna.crm.selection import contacts_for_selection, selection_from_request_data
from kizuna.members import inviting, tasks
from kizuna.members.console_forms import (
    InviteContactForm,
    MemberTierForm,
    RegistrationSettingsForm,
    RejectForm,
    TierForm,
)
from kizuna.members.models import JoinedVia, Member, MemberState, Tier
from kizuna.members.registration import (
    MembershipError,
    approve_member,
    invite_contact,
    reject_member,
)
from kizuna.members.standing import (
    change_tier,
    erase_contact,
    force_password_reset,
    reactivate_member,
    suspend_member,
)
from kizuna.segments.forms import visible_segments
from kizuna.tracking.models import Event, EventType

PAGE_SIZE = 50
LOGIN_HISTORY = 50
QUEUE_LIMIT = 200
NO_TIER = "none"


def _member(pk) -> Member:
    related = ("contact", "contact__company", "user", "tier", "decided_by", "invited_by")
    return get_object_or_404(Member.objects.select_related(*related), pk=pk)


def _back(request, default: str) -> str:
    """The console page an action was started from (`next`), or `default`."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})
    return target if safe and target.startswith("/console/") else default


def _act(request, member: Member, operation, success: str, *, done_url: str | None = None):
    """Run an operation on the member: its message, then back where the action came from."""
    detail_url = reverse("members:member_detail", args=[member.pk])
    try:
        operation()
    except MembershipError as error:
        messages.error(request, str(error))
        return redirect(_back(request, detail_url))
    messages.success(request, success)
    return redirect(done_url or _back(request, detail_url))


# --- The list -----------------------------------------------------------------------------------


@staff_required
def member_list(request):
    """Members newest first, by state (tabs with counts), tier and name / email. A fixed number
    of queries: the counts, the tiers, the page's count and its rows."""
    query = request.GET.get("q", "").strip()[:200]
    tier = request.GET.get("tier", "")
    state = request.GET.get("state", "")
    members = Member.objects.all()
    if query:
        contacts = search_contacts(Contact.objects.all(), query).values("pk")
        members = members.filter(Q(contact__in=contacts) | Q(user__email__icontains=query))
    if tier == NO_TIER:
        members = members.filter(tier__isnull=True)
    elif tier:
        members = members.filter(tier__slug=tier)
    counts = dict(members.order_by().values_list("state").annotate(count=Count("id")))
    if state in MemberState.values:
        members = members.filter(state=state)
    else:
        state = ""
    members = members.select_related("contact", "user", "tier").order_by("-registered_at", "-id")
    page = Paginator(members, PAGE_SIZE).get_page(request.GET.get("page"))
    tabs = [("", _("All"), sum(counts.values()))] + [
        (value, label, counts.get(value, 0)) for value, label in MemberState.choices
    ]
    context = {
        "page": page,
        "tabs": tabs,
        "state": state,
        "query": query,
        "tier": tier,
        "tiers": list(Tier.objects.all()),
        "no_tier": NO_TIER,
        "invite_form": InviteContactForm(),
        "segments": list(visible_segments(request.user).order_by("name")),
    }
    return render(request, "members/console/member_list.html", context)


# --- A member's page ----------------------------------------------------------------------------


@staff_required
def member_detail(request, pk):
    member = _member(pk)
    logins = []
    if member.contact_id:
        logins = list(
            Event.objects.of_contact(member.contact)
            .filter(type=EventType.LOGIN)
            .order_by("-occurred_at", "-id")[:LOGIN_HISTORY]
        )
    context = {
        "member": member,
        "logins": logins,
        "login_limit": LOGIN_HISTORY,
        "tier_form": MemberTierForm(initial={"tier": member.tier_id}),
        "states": MemberState,
    }
    return render(request, "members/console/member_detail.html", context)


@staff_required
@require_POST
def member_tier(request, pk):
    member = _member(pk)
    form = MemberTierForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose one of the membership ranks."))
    elif change_tier(member, form.cleaned_data["tier"], by=request.user):
        messages.success(request, _("The membership rank was changed."))
    return redirect("members:member_detail", member.pk)


@staff_required
@require_POST
def member_approve(request, pk):
    member = _member(pk)
    operation = partial(approve_member, member, by=request.user, request=request)
    return _act(request, member, operation, _("The registration was approved."))


@staff_required
def member_reject(request, pk):
    member = _member(pk)
    form = RejectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        reason = form.cleaned_data["reason"]
        operation = partial(reject_member, member, by=request.user, reason=reason, request=request)
        done = _back(request, reverse("members:approval_queue"))
        return _act(request, member, operation, _("The registration was rejected."), done_url=done)
    context = _confirm_context(request, member, "reject") | {"form": form}
    return render(request, "members/console/member_confirm.html", context)


@staff_required
def member_suspend(request, pk):
    member = _member(pk)
    if request.method == "POST":
        operation = partial(suspend_member, member, by=request.user)
        return _act(request, member, operation, _("The member was suspended."))
    return render(
        request, "members/console/member_confirm.html", _confirm_context(request, member, "suspend")
    )


@staff_required
@require_POST
def member_reactivate(request, pk):
    member = _member(pk)
    operation = partial(reactivate_member, member, by=request.user)
    return _act(request, member, operation, _("The member was reactivated."))


@staff_required
def member_password_reset(request, pk):
    member = _member(pk)
    if request.method == "POST":
        operation = partial(force_password_reset, member, by=request.user)
        success = _("The password no longer works; the member was logged out everywhere.")
        return _act(request, member, operation, success)
    context = _confirm_context(request, member, "password_reset")
    return render(request, "members/console/member_confirm.html", context)


@staff_required
def member_erase(request, pk):
    member = _member(pk)
    if member.contact_id is None:
        messages.error(
            request, _("This sign-up has no contact record yet; there is nothing to erase.")
        )
        return redirect("members:member_detail", member.pk)
    if request.method == "POST":
        operation = partial(erase_contact, member.contact, by=request.user)
        return _act(request, member, operation, _("The personal data was erased."))
    return render(
        request, "members/console/member_confirm.html", _confirm_context(request, member, "erase")
    )


def _confirm_context(request, member: Member, action: str) -> dict:
    return {
        "member": member,
        "action": action,
        "next": _back(request, ""),
        "action_url": reverse(f"members:member_{action}", args=[member.pk]),
    }


@staff_required
@require_POST
def member_resend(request, pk):
    """Send the email again: the invitation (a new link) or allauth's confirmation mail."""
    member = _member(pk)
    if member.state != MemberState.PENDING_VERIFICATION or member.user_id is None:
        messages.error(
            request, _("Only members waiting for email confirmation can be sent it again.")
        )
        return redirect("members:member_detail", member.pk)
    if member.joined_via == JoinedVia.INVITATION:
        operation = partial(invite_contact, member.contact, by=request.user, request=request)
        return _act(request, member, operation, _("The invitation was sent again."))
    user = member.user
    address = EmailAddress.objects.filter(user=user, email__iexact=user.email).first()
    if address is None or address.verified:
        messages.error(request, _("The member's email address is already confirmed."))
    elif not ratelimit.consume(request, action="confirm_email", key=address.email.lower()):
        messages.error(
            request,
            _(
                "A confirmation email was sent to this address a moment ago. Please wait a few "
                "minutes."
            ),
        )
    else:
        with translation.override(user.language or settings.LANGUAGE_CODE):
            address.send_confirmation(request)
        messages.success(request, _("The confirmation email was sent again."))
    return redirect("members:member_detail", member.pk)


# --- Approval queue -----------------------------------------------------------------------------


@staff_required
def approval_queue(request):
    """Registrations waiting for approval, oldest first, with what the person entered."""
    if request.method == "POST":
        return _bulk_approve(request)
    waiting = Member.objects.awaiting_approval().order_by("registered_at", "id")
    waiting = waiting.select_related("contact", "contact__company", "user")
    total = waiting.count()
    definitions = list(FieldDefinition.objects.for_contacts().active().filter(member_editable=True))
    rows = []
    for member in waiting[:QUEUE_LIMIT]:
        custom = (member.contact.custom or {}) if member.contact_id else {}
        answers = [(d.label, fields.display_value(d, custom.get(d.key))) for d in definitions]
        answers = [(label, value) for label, value in answers if value]
        rows.append((member, answers))
    context = {"rows": rows, "total": total, "limit": QUEUE_LIMIT}
    return render(request, "members/console/approval_queue.html", context)


def _bulk_approve(request):
    ids = [value for value in request.POST.getlist("ids") if value.isdigit()]
    if not ids:
        messages.error(request, _("Tick the registrations to approve first."))
        return redirect("members:approval_queue")
    approved = 0
    for member in Member.objects.filter(pk__in=ids).order_by("registered_at", "id"):
        try:
            approve_member(member, by=request.user, request=request)
        except MembershipError as error:
            messages.error(request, f"{member}: {error}")
        else:
            approved += 1
    if approved:
        messages.success(
            request,
            ngettext(
                "%(count)d registration was approved.",
                "%(count)d registrations were approved.",
                approved,
            )
            % {"count": approved},
        )
    return redirect("members:approval_queue")


# --- Inviting -----------------------------------------------------------------------------------


@staff_required
def invite_contact_view(request):
    """Invite one contact, given by id or email (also posted by a contact page's button)."""
    form = InviteContactForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        contact = form.cleaned_data["contact"]
        try:
            member = invite_contact(contact, by=request.user, request=request)
        except MembershipError as error:
            form.add_error("contact", str(error))
        else:
            messages.success(
                request,
                _("An invitation was emailed to %(email)s.") % {"email": contact.email},
            )
            return redirect("members:member_detail", member.pk)
    return render(request, "members/console/invite_contact.html", {"form": form})


@staff_required
def invite_segment(request):
    """Invite a segment (?segment=slug) or a selection of the contacts list (ids, or select_all
    with q and filter): a confirmation page with the numbers, then the invitations."""
    data = request.POST if request.method == "POST" else request.GET
    segment = None
    try:
        if data.get("segment"):
            segment = get_object_or_404(visible_segments(request.user), slug=data["segment"])
            selection = {"filter": {"segment": segment.slug}}
        else:
            selection = selection_from_request_data(data)
        contacts = contacts_for_selection(selection)
        preview = inviting.preview_invitations(contacts)
    except FilterError as error:
        messages.error(request, str(error))
        return redirect("members:member_list")
    if not preview.total:
        messages.error(request, _("Select at least one contact first."))
        return redirect("members:member_list")
    if request.method == "POST":
        return _invite_selection(request, contacts, selection, preview)
    keys = ("segment", "ids", "select_all", "q", "filter")
    context = {
        "segment": segment,
        "preview": preview,
        "hidden": [(key, value) for key in keys for value in data.getlist(key)],
        "in_background": preview.total > inviting.inline_limit(),
        "inline_limit": inviting.inline_limit(),
    }
    return render(request, "members/console/invite_confirm.html", context)


def _invite_selection(request, contacts, selection: dict, preview) -> object:
    if preview.total > inviting.inline_limit():
        transaction.on_commit(partial(tasks.invite_selection.enqueue, selection, request.user.pk))
        messages.info(
            request,
            _(
                "The invitations are being sent in the background. Invited contacts appear in "
                "this list as “Awaiting confirmation”."
            ),
        )
        return redirect("members:member_list")
    result = inviting.invite_contacts(contacts, by=request.user, request=request)
    messages.success(
        request,
        ngettext(
            "%(count)d contact was invited.", "%(count)d contacts were invited.", result.invited
        )
        % {"count": result.invited},
    )
    skipped = result.skipped_no_email + result.skipped_members + result.failed
    if skipped:
        messages.info(
            request,
            _(
                "Not invited: %(no_email)d without an email address, %(members)d already "
                "members, %(failed)d refused (another login uses the address)."
            )
            % {
                "no_email": result.skipped_no_email,
                "members": result.skipped_members,
                "failed": result.failed,
            },
        )
    return redirect(reverse("members:member_list") + f"?state={MemberState.PENDING_VERIFICATION}")


# --- Registration settings ----------------------------------------------------------------------


@staff_required
def registration_settings(request):
    form = RegistrationSettingsForm(request.POST or None, instance=SiteSettings.current())
    if request.method == "POST" and form.is_valid():
        form.save_by(request.user)
        messages.success(request, _("The registration settings were saved."))
        return redirect("members:settings")
    return render(request, "members/console/settings.html", {"form": form})


# --- Tiers --------------------------------------------------------------------------------------


@staff_required
def tier_list(request):
    tiers = Tier.objects.annotate(member_count=Count("members"))
    return render(request, "members/console/tier_list.html", {"tiers": tiers})


@staff_required
def tier_create(request):
    return _tier_form(request, Tier())


@staff_required
def tier_edit(request, pk):
    return _tier_form(request, get_object_or_404(Tier, pk=pk))


def _tier_form(request, tier: Tier):
    form = TierForm(request.POST or None, instance=tier)
    if request.method == "POST" and form.is_valid():
        saved = form.save()
        messages.success(
            request, _("The membership rank “%(name)s” was saved.") % {"name": saved.name}
        )
        return redirect("members:tier_list")
    context = {"form": form, "tier": tier if tier.pk else None}
    return render(request, "members/console/tier_form.html", context)


@staff_required
def tier_delete(request, pk):
    tier = get_object_or_404(Tier.objects.annotate(member_count=Count("members")), pk=pk)
    if request.method == "POST":
        tier.delete()
        messages.success(
            request, _("The membership rank “%(name)s” was deleted.") % {"name": tier.name}
        )
        return redirect("members:tier_list")
    return render(request, "members/console/tier_delete.html", {"tier": tier})


@staff_required
def contact_membership(request, contact_pk):
    """The contact page's membership panel: the member's state and tier, or "invite as member".
    With htmx, the panel alone."""
    contact = get_object_or_404(Contact, pk=contact_pk)
    member = Member.objects.select_related("tier").filter(contact=contact).first()
    invitable_states = (None, MemberState.WITHDRAWN, MemberState.PENDING_VERIFICATION)
    context = {
        "contact": contact,
        "member": member,
        "can_invite": bool(contact.email)
        and (member.state if member else None) in invitable_states,
    }
    template = "members/console/contact_membership.html"
    if request.htmx:
        template += "#panel"
    return render(request, template, context)
