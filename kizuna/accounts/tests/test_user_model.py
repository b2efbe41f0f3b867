import pytest
from django.db import IntegrityError

from kizuna.accounts.models import User


def test_the_email_address_is_the_login(db):
    user = User.objects.create_user("taro@example.jp", "s3cret-pass")
    assert User.USERNAME_FIELD == "email"
    assert User.objects.get_by_natural_key("TARO@example.JP") == user
    assert user.check_password("s3cret-pass")


def test_one_address_in_two_cases_is_one_login(db):
    User.objects.create_user("Taro@Example.jp")
    with pytest.raises(IntegrityError):
        User.objects.create_user("taro@example.jp")


def test_a_superuser_is_staff(db):
    admin = User.objects.create_superuser("admin@example.jp", "pw")
    assert admin.is_staff and admin.is_superuser


def test_staff_and_members_are_told_apart(db, staff, member):
    assert list(User.objects.staff()) == [staff]
    assert list(User.objects.members()) == [member]


def test_display_name_falls_back_to_the_email(db):
    assert User(email="hanako@example.jp").display_name == "hanako@example.jp"
    assert User(email="hanako@example.jp", name="山田 花子").display_name == "山田 花子"
