from kizuna.core.models import AuditAction, AuditLog
from kizuna.crm.models import Company, Contact, FieldTarget, FieldType
from kizuna.crm.search import search_contacts
from kizuna.crm.tests.factories import (
    CompanyFactory,
    ContactFactory,
    FieldDefinitionFactory,
    RecordFactory,
)


def company_urls(company):
    return [
        ("get", "/console/companies/"),
        ("get", "/console/companies/new/"),
        ("get", "/console/companies/options/"),
        ("get", f"/console/companies/{company.pk}/"),
        ("get", f"/console/companies/{company.pk}/edit/"),
        ("get", f"/console/companies/{company.pk}/delete/"),
        ("post", f"/console/companies/{company.pk}/delete/"),
        ("post", f"/console/companies/{company.pk}/edit/"),
        ("post", "/console/companies/new/"),
    ]


def test_members_are_refused_every_company_screen(member_client):
    company = CompanyFactory()
    for method, url in company_urls(company):
        assert getattr(member_client, method)(url, {"name": "x"}).status_code == 403, url
    assert Company.objects.get().name == company.name


def test_anonymous_visitors_are_sent_to_log_in(client, db):
    company = CompanyFactory()
    for method, url in company_urls(company):
        assert getattr(client, method)(url).status_code == 302, url


def test_the_list_shows_companies_with_their_contact_counts(staff_client):
    company = CompanyFactory(name="株式会社きずな", domain="kizuna.example.jp")
    ContactFactory.create_batch(3, company=company)
    response = staff_client.get("/console/companies/")
    assert response.status_code == 200
    assert response.context["companies"][0].contact_count == 3
    assert "kizuna.example.jp" in response.content.decode()


def test_the_list_is_searched_by_name_kana_or_domain(staff_client):
    CompanyFactory(name="株式会社きずな", name_kana="キズナ", domain="kizuna.example.jp")
    CompanyFactory(name="山田工業", name_kana="ヤマダコウギョウ", domain="yamada.example.jp")
    for query in ("きずな", "キズナ", "kizuna.example"):
        names = [
            c.name
            for c in staff_client.get("/console/companies/", {"q": query}).context["companies"]
        ]
        assert names == ["株式会社きずな"], query


def test_the_list_pages_by_name_without_offset(staff_client):
    for n in range(60):
        CompanyFactory(name=f"会社{n % 7}")
    seen, params = [], {}
    while True:
        response = staff_client.get("/console/companies/", params)
        seen += [c.pk for c in response.context["companies"]]
        following = response.context["next_page"]
        if following is None:
            break
        params = {"after_name": following.name, "after_id": following.pk}
    assert sorted(seen) == sorted(Company.objects.values_list("id", flat=True))
    assert len(seen) == len(set(seen))


def test_staff_add_a_company_with_custom_fields(staff_client, staff):
    FieldDefinitionFactory(
        key="industry", label_ja="業種", target=FieldTarget.COMPANY, type=FieldType.TEXT
    )
    response = staff_client.post(
        "/console/companies/new/",
        {
            "name": "株式会社　きずな",
            "name_kana": "きずな",
            "domain": "ＫＩＺＵＮＡ．ＥＸＡＭＰＬＥ．ＪＰ",
            "phone": "０３-１１１１-２２２２",
            "postal_code": "1000001",
            "owner": staff.pk,
            "custom_industry": "製造",
        },
    )
    company = Company.objects.get()
    assert response["Location"] == f"/console/companies/{company.pk}/"
    assert (company.name, company.name_kana, company.domain, company.phone) == (
        "株式会社 きずな",
        "キズナ",
        "kizuna.example.jp",
        "03-1111-2222",
    )
    assert company.postal_code == "100-0001"
    assert company.custom == {"industry": "製造"}
    assert AuditLog.objects.filter(action=AuditAction.CREATE, object_type="crm.company").exists()


def test_a_company_needs_a_name(staff_client):
    response = staff_client.post("/console/companies/new/", {"name": "  "})
    assert response.status_code == 200
    assert "name" in response.context["form"].errors
    assert not Company.objects.exists()


def test_the_detail_page_shows_fields_contacts_and_records(staff_client):
    FieldDefinitionFactory(
        key="industry", label_ja="業種", target=FieldTarget.COMPANY, type=FieldType.TEXT
    )
    company = CompanyFactory(custom={"industry": "小売"})
    contact = ContactFactory(company=company, family_name="田中", given_name="一郎")
    RecordFactory(contact=contact, company=company)
    response = staff_client.get(f"/console/companies/{company.pk}/")
    body = response.content.decode()
    assert "小売" in body
    assert "田中 一郎" in body
    assert len(response.context["records"]) == 1


def test_renaming_a_company_is_audited_and_reaches_its_contacts_search(staff_client):
    company = CompanyFactory(name="旧社名株式会社")
    ContactFactory.create_batch(3, company=company)
    ContactFactory()
    staff_client.post(f"/console/companies/{company.pk}/edit/", {"name": "新社名株式会社"})
    entry = AuditLog.objects.get(action=AuditAction.UPDATE, object_type="crm.company")
    assert entry.changes["name"] == ["旧社名株式会社", "新社名株式会社"]
    assert search_contacts(Contact.objects.all(), "新社名").count() == 3
    assert search_contacts(Contact.objects.all(), "旧社名").count() == 0


def test_deleting_a_company_keeps_its_contacts_without_it(staff_client):
    company = CompanyFactory(name="消える株式会社")
    contact = ContactFactory(company=company)
    page = staff_client.get(f"/console/companies/{company.pk}/delete/")
    assert page.context["contact_count"] == 1
    staff_client.post(f"/console/companies/{company.pk}/delete/")
    contact.refresh_from_db()
    assert contact.company is None
    assert search_contacts(Contact.objects.all(), "消える").count() == 0
    assert AuditLog.objects.filter(action=AuditAction.DELETE, object_type="crm.company").exists()


def test_company_forms_load_the_postal_code_script(staff_client):
    body = staff_client.get("/console/companies/new/").content.decode()
    assert "crm/postal-code.js" in body
    assert "data-postal-code=" in body
    assert 'nonce="' in body
