"""The demo company's customer database: custom fields, companies, contacts with kana and real
postal codes, owners, tags, record types with records, notes and consent records."""

import datetime
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from kizuna.core.demo import demo_loader
from kizuna.crm.models import (
    Company,
    ConsentMethod,
    ConsentRecord,
    Contact,
    FieldDefinition,
    FieldTarget,
    FieldType,
    Lifecycle,
    Note,
    Record,
    RecordType,
    Tag,
)
from kizuna.crm.normalising import lookup_postal_code

CONTACT_FIELDS = [
    (
        "industry",
        "業種",
        "Industry",
        FieldType.CHOICE,
        [
            ("manufacturing", "製造", "Manufacturing"),
            ("retail", "小売", "Retail"),
            ("it", "IT・通信", "IT"),
            ("finance", "金融", "Finance"),
            ("medical", "医療", "Medical"),
        ],
    ),
    ("annual_budget", "年間予算", "Annual budget", FieldType.DECIMAL, []),
    ("contract_end", "契約終了日", "Contract end", FieldType.DATE, []),
    (
        "interests",
        "興味のある製品",
        "Products of interest",
        FieldType.MULTI_CHOICE,
        [
            ("fridge", "冷蔵庫", "Refrigerator"),
            ("washer", "洗濯機", "Washing machine"),
            ("tv", "テレビ", "TV"),
            ("aircon", "エアコン", "Air conditioner"),
        ],
    ),
    (
        "rank",
        "会員ランク",
        "Member rank",
        FieldType.CHOICE,
        [
            ("gold", "ゴールド", "Gold"),
            ("silver", "シルバー", "Silver"),
            ("bronze", "ブロンズ", "Bronze"),
        ],
    ),
    ("newsletter", "ニュースレター希望", "Wants the newsletter", FieldType.BOOLEAN, []),
    ("memo", "備考", "Notes", FieldType.TEXTAREA, []),
    ("business_card", "名刺画像", "Business card", FieldType.FILE, []),
]
COMPANY_FIELDS = [
    ("employees", "従業員数", "Employees", FieldType.NUMBER, []),
    ("website", "ウェブサイト", "Website", FieldType.URL, []),
]
FAMILY = [
    ("田中", "タナカ"),
    ("鈴木", "スズキ"),
    ("佐藤", "サトウ"),
    ("高橋", "タカハシ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
    ("吉田", "ヨシダ"),
    ("山田", "ヤマダ"),
    ("松本", "マツモト"),
    ("井上", "イノウエ"),
    ("木村", "キムラ"),
    ("林", "ハヤシ"),
]
GIVEN = [
    ("太郎", "タロウ"),
    ("花子", "ハナコ"),
    ("健太", "ケンタ"),
    ("美咲", "ミサキ"),
    ("翔太", "ショウタ"),
    ("陽菜", "ヒナ"),
    ("大輔", "ダイスケ"),
    ("さくら", "サクラ"),
    ("直樹", "ナオキ"),
    ("由美", "ユミ"),
]
POSTAL_CODES = [
    "150-0001",
    "530-0001",
    "460-0008",
    "810-0001",
    "060-0001",
    "980-0021",
    "100-0005",
    "231-0005",
    "650-0021",
    "730-0011",
    "600-8216",
    "420-0852",
]
COMPANY_WORDS = ["商事", "製作所", "電機", "物産", "システムズ", "ホールディングス"]
TAGS = ["VIP", "展示会2026", "資料請求", "セミナー参加", "休眠"]
SOURCES = ["展示会", "ウェブサイト", "紹介", "広告", "セミナー"]
CONSENT_WORDING = "キズナ商事からのお知らせメールを受け取ります。"


@demo_loader
def load(rng):
    if Company.objects.filter(name__startswith="デモ").exists():
        yield "Customer database: already loaded"
        return
    staff = list(get_user_model().objects.filter(is_staff=True).order_by("id"))
    _fields(FieldTarget.CONTACT, CONTACT_FIELDS)
    _fields(FieldTarget.COMPANY, COMPANY_FIELDS)
    purchase, deal, seminar = _record_types()
    tags = [Tag.objects.get_or_create(name=name)[0] for name in TAGS]
    companies = []
    for number in range(30):
        family = rng.choice(FAMILY)[0]
        address = lookup_postal_code(rng.choice(POSTAL_CODES))
        company = Company(
            name=f"デモ{family}{rng.choice(COMPANY_WORDS)}{number + 1}",
            domain=f"demo{number + 1}.example.jp",
            phone=f"0{rng.randrange(3, 99)}-{rng.randrange(100, 9999)}-{rng.randrange(1000, 9999)}",
            postal_code=address.postal_code,
            prefecture=address.prefecture,
            city=address.city,
            address=f"{address.town}{rng.randrange(1, 9)}-{rng.randrange(1, 30)}",
            owner=rng.choice(staff) if staff else None,
            custom={
                "employees": rng.choice([8, 30, 120, 450, 1200, 5000]),
                "website": f"https://demo{number + 1}.example.jp/",
            },
        )
        company.normalize()
        company.save()
        companies.append(company)
    now = timezone.now()
    for number in range(300):
        family, family_kana = rng.choice(FAMILY)
        given, given_kana = rng.choice(GIVEN)
        company = rng.choice(companies) if rng.random() < 0.8 else None
        address = lookup_postal_code(rng.choice(POSTAL_CODES))
        custom = {
            "industry": rng.choice(["manufacturing", "retail", "it", "finance", "medical"]),
            "rank": rng.choice(["gold", "silver", "bronze"]),
            "newsletter": rng.random() < 0.6,
            "interests": sorted(
                rng.sample(["fridge", "washer", "tv", "aircon"], rng.randrange(1, 3)),
                key=["fridge", "washer", "tv", "aircon"].index,
            ),
        }
        if rng.random() < 0.5:
            custom["annual_budget"] = str(Decimal(rng.randrange(10, 5000)) * 10000)
        if rng.random() < 0.4:
            end = now.date() + datetime.timedelta(days=rng.randrange(-30, 365))
            custom["contract_end"] = end.isoformat()
        contact = Contact(
            email=f"demo{number + 1}@example.jp",
            family_name=family,
            given_name=given,
            family_name_kana=family_kana,
            given_name_kana=given_kana,
            phone=f"090-{rng.randrange(1000, 9999)}-{rng.randrange(1000, 9999)}",
            postal_code=address.postal_code,
            prefecture=address.prefecture,
            city=address.city,
            address=f"{address.town}{rng.randrange(1, 9)}-{rng.randrange(1, 30)}",
            company=company,
            owner=(company.owner if company else None) or (rng.choice(staff) if staff else None),
            lifecycle=rng.choice([Lifecycle.LEAD, Lifecycle.LEAD, Lifecycle.MEMBER]),
            source=rng.choice(SOURCES),
            custom=custom,
            created_at=now - datetime.timedelta(days=rng.randrange(0, 400)),
        )
        contact.save()
        contact.tags.set(rng.sample(tags, rng.randrange(0, 3)))
        if custom["newsletter"]:
            ConsentRecord.objects.create(
                contact=contact,
                opted_in=True,
                method=ConsentMethod.FORM,
                wording=CONSENT_WORDING,
                recorded_at=contact.created_at,
            )
            Contact.objects.filter(pk=contact.pk).update(email_opt_in=True)
        for _ in range(rng.randrange(0, 3)):
            Record.objects.create(
                record_type=purchase,
                contact=contact,
                company=company,
                occurred_at=now - datetime.timedelta(days=rng.randrange(0, 365)),
                custom={
                    "product": rng.choice(["冷蔵庫", "洗濯機", "テレビ", "エアコン"]),
                    "amount": rng.choice([49800, 128000, 198000, 298000]),
                },
            )
        if company and rng.random() < 0.3:
            Record.objects.create(
                record_type=deal,
                contact=contact,
                company=company,
                occurred_at=now - datetime.timedelta(days=rng.randrange(0, 120)),
                custom={
                    "stage": rng.choice(["proposal", "negotiation", "won", "lost"]),
                    "amount": rng.choice([500000, 1200000, 3000000]),
                },
            )
        if rng.random() < 0.2:
            Record.objects.create(
                record_type=seminar,
                contact=contact,
                occurred_at=now - datetime.timedelta(days=rng.randrange(0, 200)),
                custom={"title": rng.choice(["新製品発表会", "省エネ活用セミナー"])},
            )
        if rng.random() < 0.25:
            Note.objects.create(
                contact=contact,
                author=contact.owner,
                body=rng.choice(
                    [
                        "電話で見積もりの依頼あり。来週訪問予定。",
                        "展示会で名刺交換。資料を送付済み。",
                        "契約更新について相談したいとのこと。",
                    ]
                ),
            )
    yield "Customer database: 300 contacts, 30 companies, custom fields and records"


def _fields(target, definitions):
    for order, (key, label_ja, label_en, kind, choices) in enumerate(definitions):
        FieldDefinition.objects.get_or_create(
            target=target,
            key=key,
            record_type=None,
            defaults={
                "label_ja": label_ja,
                "label_en": label_en,
                "type": kind,
                "order": order,
                "choices": [{"value": v, "ja": ja, "en": en} for v, ja, en in choices],
                "group_ja": "営業情報",
                "group_en": "Sales",
                "member_visible": key in ("rank", "newsletter", "interests"),
                "member_editable": key in ("newsletter", "interests"),
                "file_kinds": ["image", "pdf"] if kind == FieldType.FILE else [],
            },
        )


def _record_types():
    purchase, _ = RecordType.objects.get_or_create(
        key="purchase", defaults={"name_ja": "購入", "name_en": "Purchase", "order": 0}
    )
    deal, _ = RecordType.objects.get_or_create(
        key="deal", defaults={"name_ja": "商談", "name_en": "Deal", "order": 1}
    )
    seminar, _ = RecordType.objects.get_or_create(
        key="seminar", defaults={"name_ja": "セミナー参加", "name_en": "Seminar", "order": 2}
    )
    for record_type, fields in (
        (
            purchase,
            [
                ("product", "製品", "Product", FieldType.TEXT, []),
                ("amount", "金額", "Amount", FieldType.NUMBER, []),
            ],
        ),
        (
            deal,
            [
                (
                    "stage",
                    "ステージ",
                    "Stage",
                    FieldType.CHOICE,
                    [
                        ("proposal", "提案", "Proposal"),
                        ("negotiation", "交渉", "Negotiation"),
                        ("won", "受注", "Won"),
                        ("lost", "失注", "Lost"),
                    ],
                ),
                ("amount", "金額", "Amount", FieldType.NUMBER, []),
            ],
        ),
        (seminar, [("title", "セミナー名", "Seminar", FieldType.TEXT, [])]),
    ):
        for order, (key, label_ja, label_en, kind, choices) in enumerate(fields):
            FieldDefinition.objects.get_or_create(
                target=FieldTarget.RECORD,
                record_type=record_type,
                key=key,
                defaults={
                    "label_ja": label_ja,
                    "label_en": label_en,
                    "type": kind,
                    "order": order,
                    "choices": [{"value": v, "ja": ja, "en": en} for v, ja, en in choices],
                },
            )
    return purchase, deal, seminar
