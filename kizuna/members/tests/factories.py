import factory
from allauth.account.models import EmailAddress

from kizuna.accounts.tests.factories import UserFactory
from kizuna.crm.models import Contact, Lifecycle
from kizuna.members.models import Member, MemberState, Tier


class TierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tier
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"tier{n}")
    name_ja = factory.Sequence(lambda n: f"ランク{n}")
    name_en = factory.Sequence(lambda n: f"Tier {n}")


def make_member(email="hanako@example.jp", state=MemberState.ACTIVE, tier=None, **contact_fields):
    """An active member with a login (password: accounts' PASSWORD) and a contact."""
    user = UserFactory(email=email, name="山田 花子")
    contact = Contact.objects.create(
        email=email,
        family_name=contact_fields.pop("family_name", "山田"),
        given_name=contact_fields.pop("given_name", "花子"),
        lifecycle=Lifecycle.MEMBER,
        user=user,
        **contact_fields,
    )
    EmailAddress.objects.filter(user=user).update(verified=True)
    return Member.objects.create(contact=contact, user=user, state=state, tier=tier)
