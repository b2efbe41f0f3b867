"""A file in a member-visible field of the member's own profile: on My Page, downloadable by
that member only."""

import hashlib

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from kizuna.crm.models import FieldDefinition, FieldTarget, FieldType, StoredFile
from kizuna.members.tests.factories import make_member

pytestmark = pytest.mark.django_db
PDF = b"%PDF-1.4\n%%EOF\n"


def stored_pdf() -> StoredFile:
    stored = StoredFile(
        name="契約書.pdf", content_type="application/pdf", size=len(PDF),
        sha256=hashlib.sha256(PDF).hexdigest(),
    )  # fmt: skip
    stored.file.save("x.pdf", ContentFile(PDF), save=False)
    stored.save()
    return stored


@pytest.fixture
def contract_field():
    return FieldDefinition.objects.create(
        target=FieldTarget.CONTACT, key="contract", label_ja="契約書", type=FieldType.FILE,
        member_visible=True,
    )  # fmt: skip


def test_the_member_downloads_their_own_file_from_my_page(client, contract_field):
    member = make_member()
    member.contact.custom = {"contract": str(stored_pdf().pk)}
    member.contact.save()
    client.force_login(member.user)
    url = reverse("members_site:my_file", args=["contract"])
    assert url in client.get(reverse("members_site:my_page")).content.decode()
    response = client.get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == PDF


def test_another_member_cannot_reach_it_and_hidden_fields_are_404(client, contract_field):
    owner = make_member()
    owner.contact.custom = {"contract": str(stored_pdf().pk), "secret": str(stored_pdf().pk)}
    owner.contact.save()
    FieldDefinition.objects.create(
        target=FieldTarget.CONTACT, key="secret", label_ja="社内", type=FieldType.FILE
    )
    other = make_member(email="other@example.jp")
    client.force_login(other.user)
    assert client.get(reverse("members_site:my_file", args=["contract"])).status_code == 404
    client.force_login(owner.user)
    assert client.get(reverse("members_site:my_file", args=["secret"])).status_code == 404
