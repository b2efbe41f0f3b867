"""The demo company has a realistic customer database, loaded once."""

import pytest
from django.core.management import call_command

from kizuna.crm.models import Company, ConsentRecord, Contact, FieldDefinition, Record, RecordType
from kizuna.crm.search import search_contacts


@pytest.fixture
def debug(settings):
    settings.DEBUG = True


def test_the_demo_has_fields_companies_contacts_records_and_tags(db, debug, staff_client):
    call_command("demo")
    assert Contact.objects.count() == 300 and Company.objects.count() == 30
    assert FieldDefinition.objects.for_contacts().count() == 8
    assert RecordType.objects.count() == 3 and Record.objects.exists()
    assert ConsentRecord.objects.exists()
    assert Contact.objects.filter(tags__name="VIP").exists()
    assert Contact.objects.exclude(owner=None).count() > 250
    assert search_contacts(Contact.objects.all(), "タナカ").exists()
    contact = Contact.objects.filter(records__isnull=False).first()
    assert staff_client.get(f"/console/contacts/{contact.pk}/").status_code == 200
    assert staff_client.get("/console/contacts/").status_code == 200


def test_loading_the_demo_twice_adds_nothing(db, debug):
    call_command("demo")
    call_command("demo")
    assert Contact.objects.count() == 300 and Company.objects.count() == 30


def test_the_demo_is_the_same_on_every_machine(db, debug):
    call_command("demo")
    first = list(Contact.objects.order_by("id").values_list("family_name", "custom"))
    Contact.objects.all().delete()
    Company.objects.all().delete()
    call_command("demo")
    assert list(Contact.objects.order_by("id").values_list("family_name", "custom")) == first
