import io

import pytest
from django.core.management import call_command

from kizuna.content.models import FaqEntry, Page, PageFile

pytestmark = pytest.mark.django_db


def test_the_demo_has_a_content_library_and_loads_once():
    call_command("demo", force=True, stdout=io.StringIO())
    counts = (Page.objects.count(), PageFile.objects.count(), FaqEntry.objects.count())
    call_command("demo", force=True, stdout=io.StringIO())
    assert (Page.objects.count(), PageFile.objects.count(), FaqEntry.objects.count()) == counts
    assert any("gold" in p.audience_tiers for p in Page.objects.filter(audience="tiers"))
    assert Page.objects.exclude(video_embed_url="").exists()
    assert FaqEntry.objects.filter(question__startswith="How").exists()
