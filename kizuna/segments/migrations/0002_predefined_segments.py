from django.db import migrations

PREDEFINED = [
    {
        "slug": "new",
        "name": "新規 / New",
        "description": "Created in the last 7 days. 直近7日間に登録された顧客。",
        "filter": {"field": "created_at", "op": "within_last_days", "value": 7},
    },
    {
        "slug": "slipping-away",
        "name": "離脱しそうな顧客 / Slipping away",
        "description": "Last seen more than 30 days ago. 最終訪問から30日以上経った顧客。",
        "filter": {"field": "last_seen_at", "op": "more_than_days_ago", "value": 30},
    },
    {
        "slug": "loyal-customers",
        "name": "ロイヤル顧客 / Loyal customers",
        "description": (
            "2 or more inquiries in 30 days, or inquiries about 2 or more different products in"
            " 365 days. 30日間に2回以上、または1年間に2種類以上の製品についてお問い合わせいただいた顧客。"
        ),
        "filter": {
            "any": [
                {"event": "form_submit", "within_days": 30, "min_count": 2},
                {"event": "form_submit", "within_days": 365, "distinct": "product", "min_count": 2},
            ]
        },
    },
]


def create(apps, schema_editor):
    Segment = apps.get_model("segments", "Segment")
    for values in PREDEFINED:
        Segment.objects.get_or_create(
            slug=values["slug"], defaults={**values, "predefined": True, "shared": True}
        )


def remove(apps, schema_editor):
    apps.get_model("segments", "Segment").objects.filter(predefined=True).delete()


class Migration(migrations.Migration):
    dependencies = [("segments", "0001_initial")]
    operations = [migrations.RunPython(create, remove)]
