"""Registration settings: policy, password rules, two-factor for staff, terms, email wording."""

import pytest
from django.urls import reverse

from kizuna.core.models import AuditAction, AuditLog, RegistrationPolicy, SiteSettings
from kizuna.members.mail import WORDING_KINDS
from kizuna.members.models import Member, MemberState

pytestmark = pytest.mark.django_db
SETTINGS = reverse("members:settings")


@pytest.fixture(autouse=True)
def english(client, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def form_data(**overrides) -> dict:
    data = {
        "registration_policy": "approval",
        "register_on_inquiry": "on",
        "password_min_length": "12",
        "password_require_digit": "on",
        "site_name": "絆ポータル",
        "terms_ja": "会員規約",
        "terms_en": "Terms",
    }
    for kind in WORDING_KINDS:
        data[f"wording_{kind}_ja"] = f"{kind}の案内"
        data[f"wording_{kind}_en"] = ""
    data.update(overrides)
    return data


def test_the_page_explains_each_policy_and_that_switching_never_affects_members(staff_client):
    page = staff_client.get(SETTINGS).content.decode()
    assert "Only staff create accounts" in page
    assert "People sign up themselves" in page
    assert "only after staff approve" in page
    assert "Posting an inquiry form creates the contact as a lead" in page
    assert "Switching the policy never affects existing members" in page
    assert page.count("<textarea") == 2 + 2 * len(WORDING_KINDS)


def test_saving_stores_every_setting_and_the_wording_per_email_and_language(staff_client):
    response = staff_client.post(SETTINGS, form_data(wording_invitation_en="Welcome aboard."))

    assert response["Location"] == SETTINGS
    site = SiteSettings.current()
    assert site.registration_policy == RegistrationPolicy.APPROVAL
    assert site.register_on_inquiry is True
    assert site.password_min_length == 12
    assert site.password_require_digit is True
    assert site.password_require_symbol is False
    assert site.site_name == "絆ポータル"
    assert site.terms("en") == "Terms"
    assert site.mail_wording("invitation", "en") == "Welcome aboard."
    assert site.mail_wording("approved", "en") == "approvedの案内"  # falls back to Japanese
    assert set(site.member_mail_wording) == set(WORDING_KINDS)


def test_saved_wording_is_shown_again_in_its_textarea(staff_client):
    staff_client.post(SETTINGS, form_data(wording_rejected_en="We are sorry."))
    page = staff_client.get(SETTINGS).content.decode()
    assert "We are sorry.</textarea>" in page


def test_saving_records_what_changed_in_the_audit_log(staff_client, staff):
    staff_client.post(SETTINGS, form_data())

    entry = AuditLog.objects.get(action=AuditAction.UPDATE, object_type="core.sitesettings")
    assert entry.actor == staff
    assert entry.changes["registration_policy"] == ["closed", "approval"]
    assert entry.changes["password_min_length"] == [10, 12]


def test_requiring_two_factor_for_staff_is_saved(staff_client):
    staff_client.post(SETTINGS, form_data(require_staff_two_factor="on"))
    assert SiteSettings.current().require_staff_two_factor is True


def test_a_too_short_minimum_length_is_refused_next_to_the_field(staff_client):
    response = staff_client.post(SETTINGS, form_data(password_min_length="4"))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="id_password_min_length_error"' in page
    assert SiteSettings.current().password_min_length == 10
    assert not AuditLog.objects.exists()


def test_switching_policy_leaves_existing_members_as_they_are(staff_client):
    states = [MemberState.ACTIVE, MemberState.PENDING_APPROVAL, MemberState.SUSPENDED]
    members = [Member.objects.create(state=state) for state in states]

    staff_client.post(SETTINGS, form_data(registration_policy="closed"))

    assert [Member.objects.get(pk=m.pk).state for m in members] == states
