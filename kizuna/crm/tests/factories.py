import factory

from kizuna.crm.models import (
    Company,
    Contact,
    FieldDefinition,
    FieldTarget,
    FieldType,
    Note,
    Record,
    RecordType,
    Tag,
)


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company

    name = factory.Sequence(lambda n: f"株式会社サンプル{n}")
    name_kana = factory.Sequence(lambda n: f"サンプル{n}")


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    email = factory.Sequence(lambda n: f"contact{n}@example.jp")
    family_name = "山田"
    given_name = factory.Sequence(lambda n: f"太郎{n}")
    family_name_kana = "ヤマダ"
    given_name_kana = "タロウ"


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"タグ{n}")


class FieldDefinitionFactory(factory.django.DjangoModelFactory):
    """A custom contact field; pass type=FieldType.X and choices=[...] as needed."""

    class Meta:
        model = FieldDefinition

    target = FieldTarget.CONTACT
    key = factory.Sequence(lambda n: f"field_{n}")
    label_ja = factory.Sequence(lambda n: f"項目{n}")
    label_en = factory.Sequence(lambda n: f"Field {n}")
    type = FieldType.TEXT


class RecordTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RecordType
        django_get_or_create = ("key",)

    key = "purchase"
    name_ja = "購入"
    name_en = "Purchase"


class RecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Record

    record_type = factory.SubFactory(RecordTypeFactory)
    contact = factory.SubFactory(ContactFactory)


class NoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Note

    contact = factory.SubFactory(ContactFactory)
    body = "電話で問い合わせあり。"
