"""The demo company's members: the tiers free / paid / gold, and memberships for demo contacts in
every state, with their logins.

The contacts the CRM demo made members (lifecycle "member") are members here: most active, some
suspended, some withdrawn, each in the tier of their 会員ランク field (gold → gold, silver →
paid, bronze → free). A few leads are on their way in: waiting for approval, invited and not yet
answered, and one sign-up with the email of an existing contact, which - unconfirmed - is not
joined to that contact (kizuna/members/registration.py). Logins use the demo password; their
log-in events are the tracking demo's (it runs before this loader, INSTALLED_APPS order).

Deterministic (contacts taken in id order, no randomness) and idempotent: when there are members
already, only the tiers are ensured and nothing else is added.
"""

import datetime

from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from kizuna.accounts.demo import DEMO_PASSWORD
from kizuna.accounts.models import User
from kizuna.core.demo import demo_loader
from kizuna.crm.models import Contact, Lifecycle
from kizuna.members.models import JoinedVia, Member, MemberState, Tier
from kizuna.members.registration import MEMBER_CONTACT_FIELDS
from kizuna.tracking.models import Event, EventType

# slug, name (ja), name (en), description, default
TIERS = [
    ("free", "無料会員", "Free", "会員限定ページとお問い合わせ履歴をご利用いただけます。", True),
    ("paid", "有料会員", "Paid", "製品の延長保証と会員価格でのご購入が付きます。", False),
    ("gold", "ゴールド会員", "Gold", "送料・設置費無料、専用窓口での優先サポート付き。", False),
]
RANK_TIER = {"gold": "gold", "silver": "paid", "bronze": "free"}  # the CRM demo's "rank" field
# Of every 12 member contacts (in id order), these positions are suspended or withdrawn.
SUSPENDED_AT, WITHDRAWN_AT = {5}, {9, 11}
PENDING_APPROVAL = 3  # leads who signed up and confirmed their email
INVITED = 2  # leads invited by staff who have not set their password yet
WITHDRAWAL_REASONS = ["引っ越しのため", "利用する機会がなくなったため", ""]


@demo_loader
def load(rng):
    tiers = _tiers()
    if Member.objects.exists():
        yield _("Members: already loaded")
    else:
        counts = _members(tiers)
        yield _(
            "Members: %(tiers)d tiers, %(members)d members (%(active)d active, %(approval)d "
            "waiting for approval, %(verification)d waiting for email confirmation, "
            "%(suspended)d suspended, %(withdrawn)d withdrawn)"
        ) % {"tiers": len(tiers), "members": sum(counts.values()), **counts}
    member = (
        Member.objects.filter(state=MemberState.ACTIVE, tier__slug="gold", user__isnull=False)
        .select_related("user")
        .order_by("contact_id")
        .first()
    )
    if member is not None:
        yield _("Member: log in as %(email)s with the password %(password)s") % {
            "email": member.user.email,
            "password": DEMO_PASSWORD,
        }


def _tiers() -> dict[str, Tier]:
    tiers = {}
    other_default = Tier.objects.filter(is_default=True).exclude(slug="free").exists()
    for position, (slug, name_ja, name_en, description, default) in enumerate(TIERS):
        tiers[slug], _created = Tier.objects.get_or_create(
            slug=slug,
            defaults={
                "name_ja": name_ja,
                "name_en": name_en,
                "description": description,
                "position": position,
                "is_default": default and not other_default,
            },
        )
    return tiers


def _members(tiers: dict[str, Tier]) -> dict[str, int]:
    # Dates relative to today (10:00 local time), as in the CRM demo.
    now = timezone.make_aware(datetime.datetime.combine(timezone.localdate(), datetime.time(10)))
    staff = User.objects.filter(is_staff=True).order_by("id").first()
    taken = {email.lower() for email in User.objects.values_list("email", flat=True)}
    free = Contact.objects.filter(member__isnull=True, user__isnull=True).exclude(email="")
    members, leads = (
        [c for c in free.filter(lifecycle=stage).order_by("pk") if c.email.lower() not in taken]
        for stage in (Lifecycle.MEMBER, Lifecycle.LEAD)
    )
    last_login = dict(
        Event.objects.filter(type=EventType.LOGIN, contact__in=members)
        .values("contact")
        .annotate(last=Max("occurred_at"))
        .values_list("contact", "last")
    )
    password = make_password(DEMO_PASSWORD)  # one hash for every demo login: the demo loads fast
    plans = []  # (contact, member, user or None, email verified)
    for number, contact in enumerate(members):
        registered = max(contact.created_at, now - datetime.timedelta(days=380))
        registered += datetime.timedelta(days=number % 20, minutes=number * 7 % 50)
        position = number % 12
        member = Member(
            contact=contact,
            tier=tiers[RANK_TIER.get((contact.custom or {}).get("rank"), "free")],
            registered_at=registered,
            verified_at=registered + datetime.timedelta(minutes=3 + number % 40),
        )
        if number % 3 == 0:  # the closed policy's way in: staff invited them
            member.joined_via = JoinedVia.INVITATION
            member.invited_at, member.invited_by = registered, staff
        if position in WITHDRAWN_AT:
            member.state = MemberState.WITHDRAWN
            member.withdrawn_at = now - datetime.timedelta(days=3 + number % 60)
            member.withdrawal_reason = WITHDRAWAL_REASONS[number % len(WITHDRAWAL_REASONS)]
            plans.append((contact, member, None, True))
            continue
        member.state = MemberState.SUSPENDED if position in SUSPENDED_AT else MemberState.ACTIVE
        if member.state == MemberState.SUSPENDED:
            member.suspended_at = now - datetime.timedelta(days=1 + number % 30)
        user = _user(contact, password, registered, active=member.state == MemberState.ACTIVE)
        user.last_login = last_login.get(contact.pk)
        plans.append((contact, member, user, True))
    for number, contact in enumerate(leads[:PENDING_APPROVAL]):
        registered = now - datetime.timedelta(days=1 + number, hours=3 * number)
        member = Member(
            contact=contact,
            state=MemberState.PENDING_APPROVAL,
            tier=tiers["free"],
            registered_at=registered,
            verified_at=registered + datetime.timedelta(minutes=6),
        )
        plans.append((contact, member, _user(contact, password, registered), True))
    for number, contact in enumerate(leads[PENDING_APPROVAL : PENDING_APPROVAL + INVITED]):
        invited = now - datetime.timedelta(days=2 + number)
        member = Member(
            contact=contact,
            state=MemberState.PENDING_VERIFICATION,
            tier=tiers["free"],
            joined_via=JoinedVia.INVITATION,
            registered_at=invited,
            invited_at=invited,
            invited_by=staff,
        )
        plans.append((contact, member, _user(contact, None, invited), False))
    signup = leads[PENDING_APPROVAL + INVITED : PENDING_APPROVAL + INVITED + 1]
    for contact in signup:
        # A sign-up with the email of a known contact: joined to it only once confirmed.
        registered = now - datetime.timedelta(hours=5)
        data = {key: getattr(contact, key) for key in MEMBER_CONTACT_FIELDS}
        data.update(custom={}, opt_in_wording="", ip=None)
        member = Member(
            state=MemberState.PENDING_VERIFICATION,
            tier=tiers["free"],
            registered_at=registered,
            signup_data=data,
        )
        plans.append((None, member, _user(contact, password, registered), False))

    User.objects.bulk_create([user for _c, _m, user, _v in plans if user is not None])
    EmailAddress.objects.bulk_create(
        EmailAddress(user=user, email=user.email, primary=True, verified=verified)
        for _contact, _member, user, verified in plans
        if user is not None
    )
    for contact, member, user, _verified in plans:
        member.user = user
        if contact is not None and user is not None:
            contact.user = user
    Member.objects.bulk_create([member for _c, member, _u, _v in plans])
    Contact.objects.bulk_update(
        [contact for contact, _m, user, _v in plans if contact is not None and user is not None],
        ["user"],
        batch_size=500,
    )
    counts = {"active": 0, "approval": 0, "verification": 0, "suspended": 0, "withdrawn": 0}
    keys = {
        MemberState.ACTIVE: "active",
        MemberState.PENDING_APPROVAL: "approval",
        MemberState.PENDING_VERIFICATION: "verification",
        MemberState.SUSPENDED: "suspended",
        MemberState.WITHDRAWN: "withdrawn",
    }
    for plan in plans:
        counts[keys[plan[1].state]] += 1
    return counts


def _user(contact: Contact, password: str | None, joined, *, active: bool = True) -> User:
    """The login of a demo member: `password` hashed already, None for an invitee who has not
    chosen one yet. A suspended member's login is inactive, as standing.suspend_member leaves it."""
    user = User(
        email=contact.email,
        name=contact.full_name,
        language="ja",
        is_active=active,
        date_joined=joined,
    )
    if password is None:
        user.set_unusable_password()
    else:
        user.password = password
    return user
