"""Demo content: a small library in both languages — pages for everyone, members and the gold
tier with PDFs, an onboarding video page, FAQ, an announcement banner and staff picks."""

import hashlib

from django.core.files.base import ContentFile
from django.utils import timezone

from kizuna.content.models import (
    Announcement,
    AudienceKind,
    Category,
    FaqEntry,
    Page,
    PageFile,
    StaffPick,
)
from kizuna.core.demo import demo_loader
from kizuna.crm.models import StoredFile

PAGES = [
    # slug, category, audience, tiers, title, summary, body
    (
        "welcome", "guide", AudienceKind.PUBLIC, [], "はじめての方へ", "サービスの概要",
        "## 絆サポートへようこそ\n\n会員登録すると、マニュアルや限定資料をご覧いただけます。",
    ),
    (
        "getting-started", "guide", AudienceKind.MEMBERS, [], "会員向けスタートガイド",
        "最初の一週間で行うこと",
        "1. プロフィールを登録\n2. オンボーディング動画を視聴\n3. 資料をダウンロード",
    ),
    (
        "onboarding-video", "guide", AudienceKind.MEMBERS, [], "オンボーディング動画",
        "15分で分かる使い方", "動画で基本操作をご説明します。",
    ),
    (
        "price-list-2026", "documents", AudienceKind.TIERS, ["paid", "gold"], "2026年度 価格表",
        "有料会員向け", "最新の価格表をPDFでダウンロードいただけます。",
    ),
    (
        "gold-report", "documents", AudienceKind.TIERS, ["gold"],
        "ゴールド会員限定 市場レポート", "四半期ごとの市場分析",
        "ゴールド会員の皆様に、四半期の市場動向をお届けします。",
    ),
    (
        "english-guide", "guide", AudienceKind.MEMBERS, [], "Member guide (English)",
        "For members who prefer English",
        "## Welcome\n\nThis guide explains the member site in English.",
    ),
]  # fmt: skip
FAQ = [
    (
        "returns", "返品はできますか？",
        "商品到着後8日以内であれば、未使用品に限り返品を承ります。", AudienceKind.PUBLIC,
    ),
    (
        "returns", "返品の送料は誰が負担しますか？", "初期不良の場合は当社が負担いたします。",
        AudienceKind.PUBLIC,
    ),
    (
        "account", "パスワードを忘れました",
        "ログイン画面の「パスワードをお忘れの方」から再設定できます。", AudienceKind.PUBLIC,
    ),
    (
        "account", "会員ランクを変更したい",
        "マイページからお問い合わせください。担当者がご案内します。", AudienceKind.MEMBERS,
    ),
    (
        "account", "How do I change my email address?",
        "Open My Page, then “Change your email address”.", AudienceKind.PUBLIC,
    ),
]  # fmt: skip
PDF = b"%PDF-1.4\n1 0 obj<< /Type /Catalog >>endobj\ntrailer<< /Root 1 0 R >>\n%%EOF\n"


@demo_loader
def load(rng):
    if Page.objects.filter(slug="welcome").exists():
        yield "Content: already loaded"
        return
    categories = {
        ("pages", "guide"): ("ご利用ガイド", "Guides"),
        ("pages", "documents"): ("資料", "Documents"),
        ("faq", "returns"): ("返品・交換", "Returns"),
        ("faq", "account"): ("アカウント", "Your account"),
    }
    made = {
        key: Category.objects.create(kind=key[0], slug=key[1], name_ja=ja, name_en=en, position=n)
        for n, (key, (ja, en)) in enumerate(categories.items())
    }
    now = timezone.now()
    pages = {}
    for slug, category, audience, tiers, title, summary, body in PAGES:
        pages[slug] = Page.objects.create(
            slug=slug, category=made["pages", category], audience=audience, audience_tiers=tiers,
            title=title, summary=summary, body=body, is_published=True, published_from=now,
        )  # fmt: skip
    pages["onboarding-video"].video_embed_url = "https://www.youtube.com/watch?v=kizuna-demo"
    pages["onboarding-video"].save()
    for slug, name in [("price-list-2026", "価格表2026.pdf"), ("gold-report", "市場レポート.pdf")]:
        stored = StoredFile(
            name=name, content_type="application/pdf", size=len(PDF),
            sha256=hashlib.sha256(PDF).hexdigest(),
        )  # fmt: skip
        stored.file.save("demo.pdf", ContentFile(PDF), save=False)
        stored.save()
        PageFile.objects.create(page=pages[slug], stored=stored, title=name)
    for position, (category, question, answer, audience) in enumerate(FAQ):
        FaqEntry.objects.create(
            category=made["faq", category], question=question, answer=answer,
            audience=audience, is_published=True, position=position,
        )  # fmt: skip
    Announcement.objects.create(
        title="年末年始の営業について",
        body="12月29日〜1月3日はサポート窓口をお休みいたします。",
        audience=AudienceKind.MEMBERS, banner=True, is_published=True, published_from=now,
    )  # fmt: skip
    StaffPick.objects.create(page=pages["getting-started"], note="新しく入会された方へ")
    StaffPick.objects.create(
        page=pages["gold-report"],
        segment_filter={"field": "tier", "op": "eq", "value": "gold"},
        note="ゴールド会員の皆様へ",
    )
    yield (
        f"Content: {len(pages)} pages, 2 PDFs, {len(FAQ)} FAQ entries, "
        "1 announcement, 2 staff picks"
    )
