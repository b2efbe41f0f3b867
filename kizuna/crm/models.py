"""The customer database: contacts, companies, the fields staff design, records, tags and notes.

Custom field values live in one JSON column per object (`custom`, keyed by FieldDefinition.key),
so adding a field never needs a migration. kizuna/crm/fields.py says how each type is stored.
"""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import storages
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from kizuna.crm import normalising


class Lifecycle(models.TextChoices):
    VISITOR = "visitor", pgettext_lazy("lifecycle", "Visitor")
    LEAD = "lead", pgettext_lazy("lifecycle", "Lead")
    MEMBER = "member", pgettext_lazy("lifecycle", "Member")


class FieldType(models.TextChoices):
    TEXT = "text", _("Text (one line)")
    TEXTAREA = "textarea", _("Text (several lines)")
    NUMBER = "number", _("Whole number")
    DECIMAL = "decimal", _("Decimal number")
    DATE = "date", _("Date")
    DATETIME = "datetime", _("Date and time")
    BOOLEAN = "boolean", _("Yes / no")
    CHOICE = "choice", _("Choice (one)")
    MULTI_CHOICE = "multi_choice", _("Choice (several)")
    EMAIL = "email", _("Email address")
    URL = "url", _("URL")
    PHONE = "phone", _("Phone number")
    FILE = "file", _("File")


class FieldTarget(models.TextChoices):
    CONTACT = "contact", _("Contacts")
    COMPANY = "company", _("Companies")
    RECORD = "record", _("Records")


class AddressFields(models.Model):
    """Japanese address: 〒 postal code, 都道府県, 市区町村, and the rest of the address."""

    postal_code = models.CharField(_("postal code"), max_length=10, blank=True)
    prefecture = models.CharField(_("prefecture"), max_length=10, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    address = models.CharField(_("address"), max_length=255, blank=True)

    class Meta:
        abstract = True


class RecordType(models.Model):
    """A kind of history staff keep on contacts: purchases, deals (商談), seminar attendance…"""

    key = models.SlugField(_("key"), max_length=50, unique=True)
    name_ja = models.CharField(_("name (Japanese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100, blank=True)
    description = models.TextField(_("description"), blank=True)
    order = models.PositiveIntegerField(_("order"), default=0)
    archived_at = models.DateTimeField(_("archived at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("record type")
        verbose_name_plural = _("record types")

    def __str__(self):
        return self.name

    @property
    def name(self) -> str:
        if get_language() == "en" and self.name_en:
            return self.name_en
        return self.name_ja


class FieldDefinitionQuerySet(models.QuerySet):
    def active(self):
        return self.filter(archived_at__isnull=True)

    def for_contacts(self):
        return self.filter(target=FieldTarget.CONTACT)

    def for_companies(self):
        return self.filter(target=FieldTarget.COMPANY)

    def for_record_type(self, record_type):
        return self.filter(target=FieldTarget.RECORD, record_type=record_type)


class FieldDefinition(models.Model):
    """A custom field staff added to contacts, companies or one record type."""

    target = models.CharField(_("for"), max_length=10, choices=FieldTarget.choices)
    record_type = models.ForeignKey(
        RecordType,
        verbose_name=_("record type"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="fields",
    )
    key = models.SlugField(
        _("key"),
        max_length=50,
        help_text=_(
            "Letters, digits and underscores; used in CSV headers, merge tags and segments. "
            "Fixed once data exists."
        ),
    )
    label_ja = models.CharField(_("label (Japanese)"), max_length=100)
    label_en = models.CharField(_("label (English)"), max_length=100, blank=True)
    type = models.CharField(_("type"), max_length=20, choices=FieldType.choices)
    required = models.BooleanField(_("required"), default=False)
    min_length = models.PositiveIntegerField(_("minimum length"), null=True, blank=True)
    max_length = models.PositiveIntegerField(_("maximum length"), null=True, blank=True)
    min_value = models.DecimalField(
        _("minimum value"), max_digits=30, decimal_places=10, null=True, blank=True
    )
    max_value = models.DecimalField(
        _("maximum value"), max_digits=30, decimal_places=10, null=True, blank=True
    )
    # [{"value": "gold", "ja": "ゴールド", "en": "Gold"}, ...]
    choices = models.JSONField(_("choices"), default=list, blank=True)
    help_ja = models.CharField(_("help text (Japanese)"), max_length=500, blank=True)
    help_en = models.CharField(_("help text (English)"), max_length=500, blank=True)
    group_ja = models.CharField(_("group (Japanese)"), max_length=100, blank=True)
    group_en = models.CharField(_("group (English)"), max_length=100, blank=True)
    order = models.PositiveIntegerField(_("order"), default=0)
    # File fields: kinds from kizuna.crm.files.FILE_KINDS and a size limit.
    file_kinds = models.JSONField(_("allowed file types"), default=list, blank=True)
    max_file_mb = models.PositiveIntegerField(_("maximum file size (MB)"), null=True, blank=True)
    member_visible = models.BooleanField(_("members see it on My Page"), default=False)
    member_editable = models.BooleanField(_("members may edit it"), default=False)
    at_registration = models.BooleanField(_("asked at registration"), default=False)
    archived_at = models.DateTimeField(_("archived at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = FieldDefinitionQuerySet.as_manager()

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("custom field")
        verbose_name_plural = _("custom fields")
        constraints = [
            models.UniqueConstraint(
                fields=["target", "key"],
                condition=Q(record_type__isnull=True),
                name="crm_field_key_unique_per_target",
            ),
            models.UniqueConstraint(
                fields=["record_type", "key"],
                condition=Q(record_type__isnull=False),
                name="crm_field_key_unique_per_record_type",
            ),
        ]

    def __str__(self):
        return self.label

    @property
    def label(self) -> str:
        if get_language() == "en" and self.label_en:
            return self.label_en
        return self.label_ja

    @property
    def help_text(self) -> str:
        if get_language() == "en" and self.help_en:
            return self.help_en
        return self.help_ja

    @property
    def group(self) -> str:
        if get_language() == "en" and self.group_en:
            return self.group_en
        return self.group_ja

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    def choice_label(self, value: str) -> str:
        for choice in self.choices:
            if choice.get("value") == value:
                if get_language() == "en" and choice.get("en"):
                    return choice["en"]
                return choice.get("ja") or value
        return value

    def choice_values(self) -> list[str]:
        return [choice["value"] for choice in self.choices]

    def owners(self):
        """The objects whose `custom` column holds this field's values."""
        if self.target == FieldTarget.CONTACT:
            return Contact.objects.all()
        if self.target == FieldTarget.COMPANY:
            return Company.objects.all()
        return Record.objects.filter(record_type_id=self.record_type_id)

    def has_data(self) -> bool:
        return self.owners().filter(custom__has_key=self.key).exists()


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self):
        return self.name


class CompanyQuerySet(models.QuerySet):
    def owned_by(self, user):
        return self.filter(owner=user)


class Company(AddressFields):
    name = models.CharField(_("company name"), max_length=200)
    name_kana = models.CharField(_("company name (kana)"), max_length=200, blank=True)
    domain = models.CharField(_("domain"), max_length=255, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_companies",
        limit_choices_to={"is_staff": True},
    )
    custom = models.JSONField(_("custom fields"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = CompanyQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        indexes = [
            # Import and "company by name" look-ups.
            models.Index(fields=["name"], name="crm_company_name"),
        ]

    def __str__(self):
        return self.name

    def normalize(self):
        self.name = normalising.normalize_text(self.name)
        self.name_kana = normalising.normalize_kana(self.name_kana)
        self.domain = normalising.normalize_email(self.domain).lower()
        self.phone = normalising.normalize_phone(self.phone)
        self.postal_code = normalising.normalize_postal_code(self.postal_code)


class ContactQuerySet(models.QuerySet):
    def owned_by(self, user):
        return self.filter(owner=user)

    def with_email(self, email: str):
        return self.with_emails([email])

    def with_emails(self, emails: list[str]):
        """Contacts whose email is one of these, ignoring case. Written to match the unique index
        on Lower(email) WHERE NOT email = '' - an index look-up, not a scan of every contact."""
        lowered = [normalising.normalize_email(email).lower() for email in emails]
        return (
            self.exclude(email="")
            .annotate(email_lower=Lower("email"))
            .filter(email_lower__in=[email for email in lowered if email])
        )


class Contact(AddressFields):
    """The person - lead, member or customer. Field names are SEGMENTS.md's."""

    email = models.CharField(_("email"), max_length=254, blank=True)
    family_name = models.CharField(_("family name"), max_length=100, blank=True)
    given_name = models.CharField(_("given name"), max_length=100, blank=True)
    family_name_kana = models.CharField(_("family name (kana)"), max_length=100, blank=True)
    given_name_kana = models.CharField(_("given name (kana)"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        help_text=_("The staff member in charge (sales rep)."),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_contacts",
        limit_choices_to={"is_staff": True},
    )
    company = models.ForeignKey(
        Company,
        verbose_name=_("company"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="contacts",
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("login"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="contact",
    )
    lifecycle = models.CharField(
        _("lifecycle"), max_length=10, choices=Lifecycle.choices, default=Lifecycle.LEAD
    )
    source = models.CharField(_("source"), max_length=100, blank=True)
    external_id = models.CharField(_("external id"), max_length=100, blank=True)
    # The latest ConsentRecord's answer, kept here so segments and sends need no sub-query.
    email_opt_in = models.BooleanField(_("marketing email consent"), default=False)
    first_seen_at = models.DateTimeField(_("first seen"), null=True, blank=True)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)
    sessions = models.PositiveIntegerField(_("visits"), default=0)
    custom = models.JSONField(_("custom fields"), default=dict, blank=True)
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="contacts")
    # Folded name, kana, email, phone and company (search_text) and its character pairs
    # (search_pairs), indexed for full-text search - see kizuna/crm/search.py.
    search_text = models.TextField(editable=False, blank=True, default="")
    search_pairs = models.TextField(editable=False, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ContactQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        constraints = [
            models.UniqueConstraint(
                Lower("email"), condition=~Q(email=""), name="crm_contact_email_unique_ci"
            ),
            models.UniqueConstraint(
                fields=["external_id"],
                condition=~Q(external_id=""),
                name="crm_contact_external_id_unique",
            ),
        ]
        indexes = [
            # The contacts list sorted by the built-in columns, keyset-paginated on (column, id).
            models.Index(fields=["family_name_kana", "id"], name="crm_contact_kana_id"),
            models.Index(fields=["created_at", "id"], name="crm_contact_created_id"),
            models.Index(fields=["updated_at", "id"], name="crm_contact_updated_id"),
            models.Index(fields=["last_seen_at", "id"], name="crm_contact_last_seen_id"),
            models.Index(fields=["owner", "id"], name="crm_contact_owner_id"),
            models.Index(fields=["company", "id"], name="crm_contact_company_id"),
            # Duplicate finder: same phone, same name + kana.
            models.Index(fields=["phone"], name="crm_contact_phone"),
            models.Index(
                fields=["family_name", "given_name", "family_name_kana"], name="crm_contact_names"
            ),
        ]

    def __str__(self):
        return self.display_name

    def save(self, *args, **kwargs):
        self.refresh_search_document()
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "search_text", "search_pairs"}
        super().save(*args, **kwargs)

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.family_name, self.given_name) if part)

    @property
    def full_name_kana(self) -> str:
        return " ".join(part for part in (self.family_name_kana, self.given_name_kana) if part)

    @property
    def display_name(self) -> str:
        return self.full_name or self.email or _("(no name) #%(id)s") % {"id": self.pk}

    def advance_lifecycle(self, stage: str) -> bool:
        """Move the contact up to `stage` (visitor < lead < member), never down: a member who
        posts a form stays a member. One conditional UPDATE; True when it moved."""
        order = [choice.value for choice in Lifecycle]
        lower = order[: order.index(stage)]
        moved = Contact.objects.filter(pk=self.pk, lifecycle__in=lower).update(lifecycle=stage)
        if moved:
            self.lifecycle = stage
        return bool(moved)

    def normalize(self):
        """Store Japanese input one way (kizuna/crm/normalising.py)."""
        self.email = normalising.normalize_email(self.email)
        self.family_name = normalising.normalize_text(self.family_name)
        self.given_name = normalising.normalize_text(self.given_name)
        self.family_name_kana = normalising.normalize_kana(self.family_name_kana)
        self.given_name_kana = normalising.normalize_kana(self.given_name_kana)
        self.phone = normalising.normalize_phone(self.phone)
        self.postal_code = normalising.normalize_postal_code(self.postal_code)
        self.external_id = normalising.normalize_text(self.external_id)

    def refresh_search_document(self, company_name: str | None = None):
        """Fill search_text / search_pairs from the fields people search by (crm/search.py)."""
        if company_name is None:
            company_name = self.company.name if self.company_id else ""
        self.search_text, self.search_pairs = contact_search_document(
            self.family_name,
            self.given_name,
            self.family_name_kana,
            self.given_name_kana,
            self.email,
            self.phone,
            company_name,
        )

    def validate_constraints(self, exclude=None):
        # The email constraint is on Lower(email): say so in words a user understands.
        try:
            super().validate_constraints(exclude)
        except ValidationError as error:
            messages = error.message_dict if hasattr(error, "error_dict") else {}
            if any("crm_contact_email_unique_ci" in str(m) for m in messages.get("__all__", [])):
                raise ValidationError(
                    {"email": _("Another contact already has this email address.")}
                ) from error
            raise


def contact_search_document(
    family_name, given_name, family_name_kana, given_name_kana, email, phone, company_name
) -> tuple[str, str]:
    """(search_text, search_pairs) for a contact; the import calls it without model objects."""
    return normalising.search_document(
        f"{family_name}{given_name}",
        f"{family_name_kana}{given_name_kana}",
        email,
        phone,
        phone.replace("-", ""),
        company_name,
    )


class ConsentMethod(models.TextChoices):
    FORM = "form", _("Form")
    IMPORT = "import", _("Import")
    STAFF = "staff", _("Staff")
    API = "api", _("API")


class ConsentRecord(models.Model):
    """Proof of marketing consent (特定電子メール法, GDPR): every opt-in and opt-out, kept."""

    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), on_delete=models.CASCADE, related_name="consents"
    )
    opted_in = models.BooleanField(_("opted in"))
    method = models.CharField(_("how"), max_length=10, choices=ConsentMethod.choices)
    wording = models.TextField(_("wording shown"), blank=True)
    detail = models.CharField(_("detail"), max_length=255, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    recorded_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        ordering = ["-recorded_at", "-id"]
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")
        indexes = [models.Index(fields=["contact", "-recorded_at"], name="crm_consent_latest")]

    def __str__(self):
        return f"{self.contact_id} {'in' if self.opted_in else 'out'} {self.recorded_at:%Y-%m-%d}"


class Record(models.Model):
    """One row of a record type on a contact (and optionally a company)."""

    record_type = models.ForeignKey(
        RecordType, verbose_name=_("record type"), on_delete=models.PROTECT, related_name="records"
    )
    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), on_delete=models.CASCADE, related_name="records"
    )
    company = models.ForeignKey(
        Company,
        verbose_name=_("company"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="records",
    )
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    custom = models.JSONField(_("fields"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("record")
        verbose_name_plural = _("records")
        indexes = [
            # Record conditions in segments: one contact's records of a type in a time window.
            models.Index(fields=["contact", "record_type", "occurred_at"], name="crm_record_seg"),
            models.Index(fields=["record_type", "-occurred_at"], name="crm_record_type_time"),
        ]

    def __str__(self):
        return f"{self.record_type} {self.occurred_at:%Y-%m-%d}"


class Note(models.Model):
    """A staff note on a contact's timeline."""

    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), on_delete=models.CASCADE, related_name="notes"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    body = models.TextField(_("note"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("note")
        verbose_name_plural = _("notes")

    def __str__(self):
        return self.body[:50]


class SavedView(models.Model):
    """A list screen as someone arranged it: columns, sort, search and filter."""

    target = models.CharField(
        _("for"), max_length=10, choices=FieldTarget.choices, default=FieldTarget.CONTACT
    )
    name = models.CharField(_("name"), max_length=100)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="saved_views",
    )
    shared = models.BooleanField(_("shared with all staff"), default=False)
    columns = models.JSONField(_("columns"), default=list)
    sort = models.CharField(_("sort"), max_length=60, blank=True)
    query = models.CharField(_("search"), max_length=200, blank=True)
    filter = models.JSONField(_("filter"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")

    def __str__(self):
        return self.name


def private_storage():
    """STORAGES["private"]: never under a public URL (local folder by default, S3 at scale)."""
    return storages["private"]


def stored_file_path(instance, filename):
    """A random name on disk: nothing the uploader typed reaches the file system."""
    return f"crm/{timezone.now():%Y/%m}/{uuid.uuid4().hex}"


class StoredFile(models.Model):
    """An uploaded file in private storage; only staff (or a checked view) can download it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    file = models.FileField(_("file"), storage=private_storage, upload_to=stored_file_path)
    name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size"))
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        ordering = ["-uploaded_at"]
        verbose_name = _("file")
        verbose_name_plural = _("files")

    def __str__(self):
        return self.name


class ContactMerge(models.Model):
    """Two contacts merged into one, with what is needed to undo it (kizuna/crm/merging.py)."""

    survivor = models.ForeignKey(
        Contact, verbose_name=_("kept contact"), on_delete=models.CASCADE, related_name="merges"
    )
    merged_contact_id = models.PositiveBigIntegerField(_("merged contact id"))
    merged_contact_name = models.CharField(_("merged contact"), max_length=255)
    # The merged contact's row, the survivor's values before the merge, and every moved relation.
    snapshot = models.JSONField(_("snapshot"))
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("merged by"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    merged_at = models.DateTimeField(_("merged at"), auto_now_add=True)
    undone_at = models.DateTimeField(_("undone at"), null=True, blank=True)

    class Meta:
        ordering = ["-merged_at", "-id"]
        verbose_name = _("merge")
        verbose_name_plural = _("merges")

    def __str__(self):
        return f"{self.merged_contact_name} → {self.survivor_id}"


class JobState(models.TextChoices):
    DRAFT = "draft", _("Waiting for settings")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class ImportMode(models.TextChoices):
    UPSERT = "upsert", _("Create new and update existing")
    CREATE = "create", _("Create new only")
    UPDATE = "update", _("Update existing only")


class ImportKey(models.TextChoices):
    EMAIL = "email", _("Email")
    EXTERNAL_ID = "external_id", _("External ID")


class ImportJob(models.Model):
    """One CSV import: the uploaded file, how its columns map, and how far it got."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("imported by"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    file = models.FileField(_("file"), storage=private_storage, upload_to=stored_file_path)
    file_name = models.CharField(_("file name"), max_length=255)
    encoding = models.CharField(_("encoding"), max_length=20, blank=True)
    headers = models.JSONField(_("columns in the file"), default=list)
    # {"0": "email", "1": "family_name", "2": "", ...}: file column index -> column key or "".
    mapping = models.JSONField(_("column mapping"), default=dict)
    mode = models.CharField(
        _("mode"), max_length=10, choices=ImportMode.choices, default=ImportMode.UPSERT
    )
    key = models.CharField(
        _("match by"), max_length=20, choices=ImportKey.choices, default=ImportKey.EMAIL
    )
    dry_run = models.BooleanField(_("dry run (check only, save nothing)"), default=False)
    state = models.CharField(
        _("state"), max_length=10, choices=JobState.choices, default=JobState.DRAFT
    )
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("rows processed"), default=0)
    created_count = models.PositiveIntegerField(_("created"), default=0)
    updated_count = models.PositiveIntegerField(_("updated"), default=0)
    rejected_count = models.PositiveIntegerField(_("rejected"), default=0)
    error_message = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("import")
        verbose_name_plural = _("imports")

    def __str__(self):
        return self.file_name


class ImportRejection(models.Model):
    """A row of an import that was not imported, and why."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="rejections")
    line = models.PositiveIntegerField(_("line"))
    reason = models.TextField(_("reason"))
    cells = models.JSONField(_("row"), default=list)

    class Meta:
        ordering = ["line", "id"]
        verbose_name = _("rejected row")
        verbose_name_plural = _("rejected rows")

    def __str__(self):
        return f"line {self.line}: {self.reason}"


class BulkAction(models.TextChoices):
    SET_FIELD = "set_field", _("Set a field")
    ADD_TAGS = "add_tags", _("Add tags")
    REMOVE_TAGS = "remove_tags", _("Remove tags")
    SET_OWNER = "set_owner", _("Set owner")
    DELETE = "delete", _("Delete")


class BulkJob(models.Model):
    """A bulk update on a selection (ids) or a whole filter result, run in the background when
    large."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    action = models.CharField(_("action"), max_length=20, choices=BulkAction.choices)
    params = models.JSONField(_("parameters"), default=dict)
    # Which contacts: {"ids": [...]} or {"query": "...", "filter": {...}}.
    selection = models.JSONField(_("selection"), default=dict)
    state = models.CharField(
        _("state"), max_length=10, choices=JobState.choices, default=JobState.QUEUED
    )
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("rows processed"), default=0)
    # Keyset cursor: every selected contact with an id up to here is done. It is saved in the
    # same transaction as each chunk, so a run taken over after a crash goes on from here.
    last_id = models.PositiveBigIntegerField(_("last contact done"), default=0)
    # The runner writes it after every chunk; a running job silent for longer than the worker
    # heartbeat timeout may be claimed by another runner (kizuna/crm/bulk.py).
    heartbeat_at = models.DateTimeField(_("last progress"), null=True, blank=True)
    error_message = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("bulk update")
        verbose_name_plural = _("bulk updates")

    def __str__(self):
        return f"{self.get_action_display()} ({self.total_rows})"
