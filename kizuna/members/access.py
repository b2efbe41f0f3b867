"""Who may reach member pages: every site view for members goes through these."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from kizuna.accounts.models import User
from kizuna.members.models import Member, MemberState


def current_member(request) -> Member | None:
    """The logged-in user's membership with its contact and tier (one query, cached on the
    request), or None for staff and anonymous visitors."""
    if not request.user.is_authenticated:
        return None
    if not hasattr(request, "_member"):
        # get(), not first(): one membership a login (a one-to-one), so no ORDER BY to build.
        try:
            request._member = Member.objects.select_related("contact", "tier").get(
                user_id=request.user.pk
            )
        except Member.DoesNotExist:
            request._member = None
        else:
            # user.contact (crm's reverse one-to-one) is this contact: other apps' panels on the
            # same page read it without a query of their own.
            contact = request._member.contact
            if contact is not None and contact.user_id == request.user.pk:
                User.contact.related.set_cached_value(request.user, contact)
    return request._member


def member_required(view):
    """Site views for members: anonymous visitors go to the log-in page (and come back); a login
    whose membership is not active gets 403. Django already refuses the session of a suspended
    or deleted user, so this holds from the next request on."""

    @wraps(view)
    def checked(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        member = current_member(request)
        if member is None or member.state != MemberState.ACTIVE or member.contact_id is None:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return checked
