"""The field designer: staff add fields of any type and see them everywhere at once, and nothing
with data is ever dropped."""

import pytest

from kizuna.core.models import AuditLog
from kizuna.crm import fields
from kizuna.crm.forms import CompanyForm, ContactForm, RecordForm
from kizuna.crm.models import FieldDefinition, FieldType, RecordType
from kizuna.crm.tests.factories import (
    ContactFactory,
    FieldDefinitionFactory,
    RecordFactory,
    RecordTypeFactory,
)


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


def test_a_company_field_shows_in_the_company_form(staff_client):
    staff_client.post(
        "/console/designer/fields/new/?target=company",
        {"target": "company", "label_ja": "業種", "key": "industry", "type": "text"},
    )
    assert FieldDefinition.objects.for_companies().get().key == "industry"
    assert "custom_industry" in CompanyForm().fields
    assert "custom_industry" not in ContactForm().fields


@pytest.mark.parametrize(
    "key", sorted(k for k in fields.RESERVED_KEYS if fields.KEY_PATTERN.match(k))
)
def test_every_reserved_key_is_refused(staff_client, key):
    assert add_field(staff_client, key=key).status_code == 200
    assert not FieldDefinition.objects.exists()


def test_the_same_key_is_fine_on_another_target(staff_client):
    FieldDefinitionFactory(key="industry")
    response = staff_client.post(
        "/console/designer/fields/new/?target=company",
        {"target": "company", "label_ja": "業種", "key": "industry", "type": "text"},
    )
    assert response.status_code == 302


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
    assert "1" in " ".join(response.context["form"].errors["choices"])
    definition.refresh_from_db()
    assert definition.choice_values() == ["gold", "silver"]


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
    assert AuditLog.objects.filter(object_type="crm.fielddefinition", action="delete").exists()


def test_a_field_with_data_is_never_deleted(staff_client):
    staff_client.cookies["django_language"] = "en"
    definition = FieldDefinitionFactory(key="industry")
    ContactFactory(custom={"industry": "製造"})
    ContactFactory(custom={"industry": "小売"})
    response = staff_client.post(f"/console/designer/fields/{definition.pk}/delete/", follow=True)
    assert FieldDefinition.objects.filter(pk=definition.pk).exists()
    assert "2 records" in response.content.decode()


def test_the_remove_page_says_what_will_happen(staff_client):
    empty = FieldDefinitionFactory(key="empty")
    used = FieldDefinitionFactory(key="used")
    ContactFactory(custom={"used": "x"})
    empty_page = staff_client.get(f"/console/designer/fields/{empty.pk}/remove/").content.decode()
    used_page = staff_client.get(f"/console/designer/fields/{used.pk}/remove/").content.decode()
    assert (
        f"/fields/{empty.pk}/delete/" in empty_page and f"/fields/{empty.pk}/archive/" in empty_page
    )
    assert (
        f"/fields/{used.pk}/delete/" not in used_page and f"/fields/{used.pk}/archive/" in used_page
    )


def test_an_archived_field_without_data_can_be_deleted_from_the_archive(staff_client):
    definition = FieldDefinitionFactory(key="unused")
    staff_client.post(f"/console/designer/fields/{definition.pk}/archive/")
    definition.refresh_from_db()
    assert definition.is_archived
    page = staff_client.get("/console/designer/fields/").content.decode()
    assert f"/fields/{definition.pk}/delete/" in page
    staff_client.post(f"/console/designer/fields/{definition.pk}/delete/")
    assert not FieldDefinition.objects.exists()


def test_archiving_and_restoring_are_audited(staff_client):
    definition = FieldDefinitionFactory(key="industry")
    staff_client.post(f"/console/designer/fields/{definition.pk}/archive/")
    staff_client.post(f"/console/designer/fields/{definition.pk}/restore/")
    changes = list(
        AuditLog.objects.filter(object_id=str(definition.pk), action="update")
        .order_by("id")
        .values_list("changes", flat=True)
    )
    assert changes == [{"archived": [False, True]}, {"archived": [True, False]}]


def test_an_edit_is_audited_with_what_changed(staff_client):
    definition = FieldDefinitionFactory(key="industry", label_ja="業種", label_en="")
    staff_client.post(
        f"/console/designer/fields/{definition.pk}/edit/",
        {"label_ja": "業界", "key": "industry", "type": "text", "required": "on"},
    )
    entry = AuditLog.objects.get(object_id=str(definition.pk), action="update")
    assert entry.changes == {"label_ja": ["業種", "業界"], "required": [False, True]}


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


def test_a_record_type_field_shows_in_that_record_type_form_only(staff_client):
    purchase, deal = RecordTypeFactory(key="purchase"), RecordTypeFactory(key="deal")
    add_field(staff_client, record_type="purchase", key="amount", type="number")
    assert "custom_amount" in RecordForm(record_type=purchase).fields
    assert "custom_amount" not in RecordForm(record_type=deal).fields


def test_a_record_type_key_is_fixed_once_records_exist(staff_client):
    record = RecordFactory(record_type=RecordTypeFactory(key="deal"))
    staff_client.post(
        f"/console/designer/record-types/{record.record_type.pk}/edit/",
        {"name_ja": "商談", "key": "opportunity"},
    )
    record.record_type.refresh_from_db()
    assert (record.record_type.key, record.record_type.name_ja) == ("deal", "商談")


def test_a_record_type_is_archived_and_restored_with_its_records_kept(staff_client):
    record = RecordFactory(record_type=RecordTypeFactory(key="deal"))
    url = f"/console/designer/record-types/{record.record_type.pk}/archive/"
    staff_client.post(url)
    record.record_type.refresh_from_db()
    assert record.record_type.archived_at is not None
    assert record.record_type.records.get() == record
    staff_client.post(url, {"archive": "0"})
    record.record_type.refresh_from_db()
    assert record.record_type.archived_at is None
    assert AuditLog.objects.filter(object_type="crm.recordtype", action="update").count() == 2


def test_the_designer_pages_render(staff_client):
    FieldDefinitionFactory(key="x")
    for path in (
        "/console/designer/fields/",
        "/console/designer/fields/?target=company",
        "/console/designer/record-types/",
        "/console/designer/fields/new/",
    ):
        assert staff_client.get(path).status_code == 200


def test_members_cannot_change_anything_in_the_designer(member_client):
    definition = FieldDefinitionFactory(key="industry")
    record_type = RecordTypeFactory(key="deal")
    assert member_client.get("/console/designer/fields/").status_code == 403
    assert member_client.post("/console/designer/fields/new/", {}).status_code == 403
    for action in ("edit", "move", "remove", "archive", "restore", "delete"):
        url = f"/console/designer/fields/{definition.pk}/{action}/"
        assert member_client.post(url, {"direction": "up"}).status_code == 403
    for url in ("new/", f"{record_type.pk}/edit/", f"{record_type.pk}/archive/"):
        assert member_client.post(f"/console/designer/record-types/{url}").status_code == 403
    definition.refresh_from_db()
    assert not definition.is_archived and RecordType.objects.get().archived_at is None
    assert not AuditLog.objects.exists()
