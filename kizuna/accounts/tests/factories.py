import factory
from allauth.account.models import EmailAddress

from kizuna.accounts.models import User

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    """A user who can log in with PASSWORD; staff=True makes console staff."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    class Params:
        staff = factory.Trait(is_staff=True)

    email = factory.Sequence(lambda n: f"user{n}@kizuna.test")
    name = factory.Sequence(lambda n: f"利用者 {n}")
    language = "ja"
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def verified_email(user, create, extracted, **kwargs):
        user.save()
        if create:
            EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
