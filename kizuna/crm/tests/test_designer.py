"""The field designer: staff add fields of any type and see them everywhere at once, and nothing
with data is ever dropped."""

import pytest

from kizuna.core.models import AuditLog
from kizuna.crm import fields
from kizuna.crm.forms import ContactForm
from kizuna.crm.models import FieldDefinition, FieldType, RecordType
from kizuna.crm.tests.factories import ContactFactory, FieldDefinitionFactory, RecordTypeFactory


def add_field(client, **data):
    values = {
        "target": "contact",
        "label_ja": "業種",
        "label_en": "Industry",
        "key": "industry",
        "type": "text",
    } | data
    query = f"record_type={data['record_type']}" if "record_type" in data else "target=contact"
    return client.post(f"/console/designer/fields/new/?{query}", values)


@pytest.mark.parametrize("kind", FieldType.values)
def test_a_field_of_every_type_shows_at_once_in_columns_and_forms(staff_client, kind):
    choices = "gold | ゴールド | Gold\nsilver | シルバー | Silver" if "choice" in kind else ""
    response = add_field(staff_client, type=kind, key=f"f_{kind}", choices=choices)
    assert response.status_code == 302, response.context["form"].errors
    assert f"f_{kind}" in [column.key for column in fields.contact_columns()]
    assert f"custom_f_{kind}" in ContactForm().fields
    assert AuditLog.objects.filter(object_type="crm.fielddefinition", action="create").exists()


def test_choices_are_stored_with_both_labels(staff_client):
    add_field(staff_client, type="choice", key="rank", choices="gold | ゴールド | Gold\nsilver")
    assert FieldDefinition.objects.get(key="rank").choices == [
        {"value": "gold", "ja": "ゴールド", "en": "Gold"},
        {"value": "silver", "ja": "silver", "en": ""},
    ]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"key": "email"}, "key", "built-in"),
        ({"key": "Bad Key"}, "key", "lower-case"),
        ({"type": "choice", "choices": ""}, "choices", "at least one choice"),
        ({"type": "choice", "choices": "a\na"}, "choices", "once"),
        ({"min_length": "5", "max_length": "2"}, "max_length", "smaller"),
    ],
)
def test_a_bad_field_is_refused_with_a_message_on_the_field(staff_client, data, field, message):
    staff_client.cookies["django_language"] = "en"
    response = add_field(staff_client, **data)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert not FieldDefinition.objects.exists()


def test_a_key_already_used_by_an_archived_field_is_refused(staff_client):
    FieldDefinitionFactory(key="industry", archived_at="2026-01-01T00:00:00Z")
    assert add_field(staff_client).status_code == 200


def test_key_and_type_are_fixed_once_the_field_has_data(staff_client):
    definition = FieldDefinitionFactory(key="industry")
    ContactFactory(custom={"industry": "製造"})
    response = staff_client.post(
        f"/console/designer/fields/{definition.pk}/edit/",
        {"label_ja": "業界", "key": "sector", "type": "number"},
    )
    assert response.status_code == 302
    definition.refresh_from_db()
    assert (definition.label_ja, definition.key, definition.type) == ("業界", "industry", "text")


def test_a_choice_in_use_cannot_be_removed(staff_client):
    definition = FieldDefinitionFactory(
        key="rank", type=FieldType.CHOICE, choices=[{"value": "gold"}, {"value": "silver"}]
    )
    ContactFactory(custom={"rank": "silver"})
    response = staff_client.post(
        f"/console/designer/fields/{definition.pk}/edit/",
        {"label_ja": "ランク", "key": "rank", "type": "choice", "choices": "gold"},
    )
    assert response.status_code == 200
    assert "silver" in " ".join(response.context["form"].errors["choices"])


def test_removing_a_field_with_data_archives_it_and_restoring_brings_it_back(staff_client):
    definition = FieldDefinitionFactory(key="industry")
    contact = ContactFactory(custom={"industry": "製造"})
    staff_client.post(f"/console/designer/fields/{definition.pk}/remove/")
    definition.refresh_from_db()
    assert definition.is_archived
    assert "industry" not in [column.key for column in fields.contact_columns()]
    contact.refresh_from_db()
    assert contact.custom == {"industry": "製造"}
    staff_client.post(f"/console/designer/fields/{definition.pk}/restore/")
    assert "industry" in [column.key for column in fields.contact_columns()]


def test_removing_a_field_without_data_deletes_it(staff_client):
    definition = FieldDefinitionFactory(key="unused")
    staff_client.post(f"/console/designer/fields/{definition.pk}/remove/")
    assert not FieldDefinition.objects.filter(pk=definition.pk).exists()


def test_fields_are_reordered_with_up_and_down(staff_client):
    first, second, third = (FieldDefinitionFactory(key=k, order=i) for i, k in enumerate("abc"))
    staff_client.post(f"/console/designer/fields/{third.pk}/move/", {"direction": "up"})
    keys = list(FieldDefinition.objects.for_contacts().values_list("key", flat=True))
    assert keys == ["a", "c", "b"]


def test_record_types_have_their_own_fields(staff_client):
    staff_client.post(
        "/console/designer/record-types/new/",
        {"name_ja": "購入", "name_en": "Purchase", "key": "purchase"},
    )
    purchase = RecordType.objects.get(key="purchase")
    response = add_field(staff_client, record_type="purchase", key="amount", type="number")
    assert response.status_code == 302
    assert FieldDefinition.objects.for_record_type(purchase).get().key == "amount"
    page = staff_client.get("/console/designer/fields/?record_type=purchase")
    assert b"amount" in page.content


def test_a_record_type_key_is_fixed_once_records_exist(staff_client):
    from kizuna.crm.tests.factories import RecordFactory

    record = RecordFactory(record_type=RecordTypeFactory(key="deal"))
    staff_client.post(
        f"/console/designer/record-types/{record.record_type.pk}/edit/",
        {"name_ja": "商談", "key": "opportunity"},
    )
    record.record_type.refresh_from_db()
    assert (record.record_type.key, record.record_type.name_ja) == ("deal", "商談")


def test_the_designer_pages_render(staff_client):
    FieldDefinitionFactory(key="x")
    for path in (
        "/console/designer/fields/",
        "/console/designer/fields/?target=company",
        "/console/designer/record-types/",
        "/console/designer/fields/new/",
    ):
        assert staff_client.get(path).status_code == 200


def test_members_cannot_open_the_designer(member_client):
    assert member_client.get("/console/designer/fields/").status_code == 403
    assert member_client.post("/console/designer/fields/new/", {}).status_code == 403
