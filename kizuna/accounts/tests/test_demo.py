import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from kizuna.accounts.demo import DEMO_PASSWORD


@pytest.fixture
def debug(settings):
    settings.DEBUG = True


def test_demo_creates_an_admin_and_two_sales_reps_who_can_log_in(db, debug, client, capsys):
    call_command("demo")
    staff = get_user_model().objects.staff()
    assert staff.count() == 3
    assert staff.filter(is_superuser=True).count() == 1
    assert "admin@kizuna.example" in capsys.readouterr().out
    assert client.login(email="admin@kizuna.example", password=DEMO_PASSWORD)


def test_running_demo_twice_adds_nothing_twice(db, debug):
    call_command("demo")
    call_command("demo")
    assert get_user_model().objects.filter(is_staff=True).count() == 3


def test_if_empty_leaves_a_database_with_data_alone(db, debug, member, capsys):
    call_command("demo", "--if-empty")
    assert get_user_model().objects.count() == 1
    assert "not loaded" in capsys.readouterr().out


def test_demo_refuses_to_run_in_production_without_force(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="--force"):
        call_command("demo")
