"""The demo company has a realistic Japanese customer database, the same on every machine, loaded
once."""

import re

import pytest
from django.core.management import call_command

from kizuna.crm.models import (
    Company,
    ConsentRecord,
    Contact,
    FieldDefinition,
    Note,
    Record,
    RecordType,
)
from kizuna.crm.normalising import lookup_postal_code
from kizuna.crm.search import search_contacts


@pytest.fixture
def demo(db, settings):
    settings.DEBUG = True
    call_command("demo")


def test_the_demo_has_fields_companies_contacts_records_and_tags(demo, staff_client):
    assert Contact.objects.count() == 300 and Company.objects.count() == 30
    keys = set(FieldDefinition.objects.for_contacts().values_list("key", flat=True))
    assert {"industry", "annual_budget", "contract_end", "interests", "rank", "newsletter"} <= keys
    assert {"memo", "business_card"} <= keys
    assert FieldDefinition.objects.for_companies().count() == 3
    assert set(RecordType.objects.values_list("name_ja", flat=True)) == {
        "購入",
        "商談",
        "セミナー参加",
    }
    for key in ("purchase", "deal", "seminar"):
        assert Record.objects.filter(record_type__key=key).exists(), key
    assert Note.objects.exists()
    assert Contact.objects.filter(tags__name="VIP").exists()
    assert Contact.objects.filter(tags__name="展示会2026").exists()
    assert Contact.objects.exclude(owner=None).count() == 300
    contact = Contact.objects.filter(records__isnull=False).first()
    assert staff_client.get(f"/console/contacts/{contact.pk}/").status_code == 200
    assert staff_client.get("/console/contacts/").status_code == 200


def test_demo_people_look_like_a_japanese_customer_database(demo):
    for contact in Contact.objects.select_related("company")[:300]:
        assert re.fullmatch(r"[ァ-ヶー]+", contact.family_name_kana + contact.given_name_kana)
        address = lookup_postal_code(contact.postal_code)
        assert address and address.prefecture == contact.prefecture, contact.postal_code
        assert re.fullmatch(r"0[789]0-\d{4}-\d{4}", contact.phone)
        if contact.company:
            assert contact.email.endswith("@" + contact.company.domain)
    company = Company.objects.first()
    assert "株式会社" in company.name and company.name_kana and company.custom["employees"]
    assert search_contacts(Contact.objects.all(), "タナカ").exists()


def test_consent_is_recorded_with_its_wording_and_matches_the_flag(demo):
    opted_in = Contact.objects.filter(email_opt_in=True)
    assert opted_in.exists()
    for contact in opted_in[:20]:
        latest = contact.consents.order_by("-recorded_at").first()
        assert latest.opted_in and latest.wording
    assert ConsentRecord.objects.filter(opted_in=False).exists()
    for contact in Contact.objects.filter(consents__opted_in=False).distinct():
        assert not contact.email_opt_in


def test_loading_the_demo_twice_adds_nothing(demo):
    counts = [Contact.objects.count(), Company.objects.count(), Record.objects.count()]
    call_command("demo")
    assert [Contact.objects.count(), Company.objects.count(), Record.objects.count()] == counts


def test_the_demo_is_the_same_on_every_machine(demo):
    shape = ("family_name", "email", "phone", "postal_code", "custom", "company__name")
    first = list(Contact.objects.order_by("id").values_list(*shape))
    records = list(Record.objects.order_by("id").values_list("record_type__key", "custom"))
    Contact.objects.all().delete()
    Company.objects.all().delete()
    FieldDefinition.objects.filter(key="industry").delete()
    call_command("demo")
    assert list(Contact.objects.order_by("id").values_list(*shape)) == first
    assert list(Record.objects.order_by("id").values_list("record_type__key", "custom")) == records
