import datetime

from django.utils import timezone

from kizuna.core.models import AuditAction, AuditLog
from kizuna.crm.models import FieldTarget, FieldType, Record
from kizuna.crm.tests.factories import (
    CompanyFactory,
    ContactFactory,
    FieldDefinitionFactory,
    RecordFactory,
    RecordTypeFactory,
)


def purchase_with_fields():
    purchase = RecordTypeFactory()
    FieldDefinitionFactory(
        key="product",
        label_ja="商品",
        target=FieldTarget.RECORD,
        record_type=purchase,
        type=FieldType.TEXT,
        required=True,
    )
    FieldDefinitionFactory(
        key="amount",
        label_ja="金額",
        target=FieldTarget.RECORD,
        record_type=purchase,
        type=FieldType.NUMBER,
    )
    return purchase


def record_urls(contact, record):
    return [
        ("get", f"/console/contacts/{contact.pk}/records/purchase/new/"),
        ("post", f"/console/contacts/{contact.pk}/records/purchase/new/"),
        ("get", "/console/records/by-type/purchase/"),
        ("get", f"/console/records/{record.pk}/"),
        ("get", f"/console/records/{record.pk}/edit/"),
        ("post", f"/console/records/{record.pk}/edit/"),
        ("get", f"/console/records/{record.pk}/delete/"),
        ("post", f"/console/records/{record.pk}/delete/"),
    ]


def test_members_are_refused_every_record_screen(member_client):
    record = RecordFactory()
    for method, url in record_urls(record.contact, record):
        assert getattr(member_client, method)(url).status_code == 403, url
    assert Record.objects.count() == 1


def test_anonymous_visitors_are_sent_to_log_in(client, db):
    record = RecordFactory()
    for method, url in record_urls(record.contact, record):
        assert getattr(client, method)(url).status_code == 302, url


def test_staff_add_a_record_with_its_fields_and_time(staff_client, staff):
    purchase_with_fields()
    company = CompanyFactory()
    contact = ContactFactory(company=company)
    form = staff_client.get(f"/console/contacts/{contact.pk}/records/purchase/new/")
    assert set(form.context["form"].fields) >= {"occurred_at", "custom_product", "custom_amount"}
    response = staff_client.post(
        f"/console/contacts/{contact.pk}/records/purchase/new/",
        {"occurred_at": "2026-11-22T10:30", "custom_product": "冷蔵庫", "custom_amount": "128000"},
    )
    assert response.status_code == 302
    record = Record.objects.get()
    assert record.custom == {"product": "冷蔵庫", "amount": 128000}
    assert timezone.localtime(record.occurred_at).replace(tzinfo=None) == datetime.datetime(
        2026, 11, 22, 10, 30
    )
    assert record.created_by == staff
    assert record.contact == contact
    entry = AuditLog.objects.get(action=AuditAction.CREATE, object_type="crm.record")
    assert entry.changes["product"] == [None, "冷蔵庫"]


def test_a_record_missing_a_required_field_is_refused(staff_client):
    purchase_with_fields()
    contact = ContactFactory()
    response = staff_client.post(
        f"/console/contacts/{contact.pk}/records/purchase/new/",
        {"occurred_at": "2026-11-22T10:30", "custom_amount": "abc"},
    )
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"custom_product", "custom_amount"}
    assert not Record.objects.exists()


def test_an_archived_record_type_takes_no_new_records(staff_client):
    purchase = RecordTypeFactory()
    purchase.archived_at = timezone.now()
    purchase.save()
    contact = ContactFactory()
    assert (
        staff_client.get(f"/console/contacts/{contact.pk}/records/purchase/new/").status_code == 404
    )


def test_staff_edit_a_record_and_the_change_is_audited(staff_client):
    purchase_with_fields()
    record = RecordFactory(custom={"product": "冷蔵庫", "amount": 100})
    response = staff_client.post(
        f"/console/records/{record.pk}/edit/",
        {"occurred_at": "2026-11-22T10:30", "custom_product": "洗濯機", "custom_amount": "100"},
    )
    assert response["Location"] == f"/console/records/{record.pk}/"
    record.refresh_from_db()
    assert record.custom == {"product": "洗濯機", "amount": 100}
    entry = AuditLog.objects.get(action=AuditAction.UPDATE, object_type="crm.record")
    assert entry.changes["product"] == ["冷蔵庫", "洗濯機"]
    assert "amount" not in entry.changes


def test_deleting_a_record_asks_first(staff_client):
    record = RecordFactory()
    assert staff_client.get(f"/console/records/{record.pk}/delete/").status_code == 200
    assert Record.objects.exists()
    response = staff_client.post(f"/console/records/{record.pk}/delete/")
    assert response["Location"] == f"/console/contacts/{record.contact_id}/#records"
    assert not Record.objects.exists()
    assert AuditLog.objects.filter(action=AuditAction.DELETE, object_type="crm.record").exists()


def test_the_list_of_a_record_type_shows_its_records_newest_first(staff_client):
    purchase_with_fields()
    seminar = RecordTypeFactory(key="seminar", name_ja="セミナー")
    old = RecordFactory(
        custom={"product": "冷蔵庫"}, occurred_at=timezone.now() - datetime.timedelta(days=3)
    )
    new = RecordFactory(custom={"product": "洗濯機"})
    RecordFactory(record_type=seminar)
    response = staff_client.get("/console/records/by-type/purchase/")
    assert [record.pk for record, _values in response.context["rows"]] == [new.pk, old.pk]
    assert "商品" in response.context["headers"]
    assert "洗濯機" in response.content.decode()


def test_the_record_list_pages_through_ties_without_repeats(staff_client):
    moment = timezone.now()
    for _ in range(120):
        RecordFactory(occurred_at=moment)
    seen, params = [], {}
    while True:
        response = staff_client.get("/console/records/by-type/purchase/", params)
        seen += [record.pk for record, _values in response.context["rows"]]
        if not response.context["next_after"]:
            break
        params = {"after": response.context["next_after"]}
    assert len(seen) == len(set(seen)) == 120


def test_the_record_detail_shows_its_fields(staff_client):
    purchase_with_fields()
    record = RecordFactory(custom={"product": "冷蔵庫", "amount": 128000})
    body = staff_client.get(f"/console/records/{record.pk}/").content.decode()
    assert "冷蔵庫" in body
    assert "128,000" in body


def test_the_contact_page_shows_records_by_type(staff_client):
    purchase_with_fields()
    record = RecordFactory(custom={"product": "冷蔵庫"})
    response = staff_client.get(f"/console/contacts/{record.contact_id}/")
    record_type, labels, rows = response.context["record_groups"][0]
    assert record_type.key == "purchase"
    assert labels == ["商品", "金額"]
    assert rows[0][1][0] == ("商品", "冷蔵庫")
