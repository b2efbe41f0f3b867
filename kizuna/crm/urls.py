"""The crm app's console screens, all under /console/. One section per group of screens."""

from django.urls import path

from kizuna.crm.views import (
    bulk,
    companies,
    contacts,
    designer,
    exporting,
    files,
    importing,
    merging,
    records,
)

app_name = "crm"

urlpatterns = []

# --- Contacts, companies, records, notes, tags, saved views, files, postal codes ----------------
# (The public postal-code lookup is in site_urls.py: it is not a console screen.)

urlpatterns += [
    path("contacts/", contacts.contact_list, name="contact_list"),
    path("contacts/new/", contacts.contact_create, name="contact_create"),
    path("contacts/<int:pk>/", contacts.contact_detail, name="contact_detail"),
    path("contacts/<int:pk>/edit/", contacts.contact_edit, name="contact_edit"),
    path("contacts/<int:pk>/delete/", contacts.contact_delete, name="contact_delete"),
    path("contacts/<int:pk>/tags/", contacts.contact_tag_add, name="contact_tag_add"),
    path(
        "contacts/<int:pk>/tags/<int:tag_id>/remove/",
        contacts.contact_tag_remove,
        name="contact_tag_remove",
    ),
    path("contacts/<int:pk>/notes/", contacts.note_create, name="note_create"),
    path("notes/<int:pk>/edit/", contacts.note_edit, name="note_edit"),
    path("notes/<int:pk>/delete/", contacts.note_delete, name="note_delete"),
    path("contacts/views/", contacts.savedview_create, name="savedview_create"),
    path("contacts/views/<int:pk>/delete/", contacts.savedview_delete, name="savedview_delete"),
    path(
        "contacts/<int:pk>/records/<slug:record_type>/new/",
        records.record_create,
        name="record_create",
    ),
    path("records/by-type/<slug:record_type>/", records.record_list, name="record_list"),
    path("records/<int:pk>/", records.record_detail, name="record_detail"),
    path("records/<int:pk>/edit/", records.record_edit, name="record_edit"),
    path("records/<int:pk>/delete/", records.record_delete, name="record_delete"),
    path("companies/", companies.company_list, name="company_list"),
    path("companies/new/", companies.company_create, name="company_create"),
    path("companies/options/", companies.company_options, name="company_options"),
    path("companies/<int:pk>/", companies.company_detail, name="company_detail"),
    path("companies/<int:pk>/edit/", companies.company_edit, name="company_edit"),
    path("companies/<int:pk>/delete/", companies.company_delete, name="company_delete"),
    path("files/<str:file_id>/", files.file_download, name="file_download"),
]

# --- Field designer, record types, duplicates and merge -----------------------------------------

urlpatterns += [
    path("designer/fields/", designer.field_list, name="field_list"),
    path("designer/fields/new/", designer.field_create, name="field_create"),
    path("designer/fields/<int:pk>/edit/", designer.field_edit, name="field_edit"),
    path("designer/fields/<int:pk>/move/", designer.field_move, name="field_move"),
    path("designer/fields/<int:pk>/remove/", designer.field_remove, name="field_remove"),
    path("designer/fields/<int:pk>/archive/", designer.field_archive, name="field_archive"),
    path("designer/fields/<int:pk>/restore/", designer.field_restore, name="field_restore"),
    path("designer/fields/<int:pk>/delete/", designer.field_delete, name="field_delete"),
    path("designer/record-types/", designer.recordtype_list, name="recordtype_list"),
    path("designer/record-types/new/", designer.recordtype_form, name="recordtype_create"),
    path("designer/record-types/<int:pk>/edit/", designer.recordtype_form, name="recordtype_edit"),
    path(
        "designer/record-types/<int:pk>/archive/",
        designer.recordtype_archive,
        name="recordtype_archive",
    ),
    path("contacts/duplicates/", merging.duplicate_list, name="duplicate_list"),
    path("contacts/<int:pk>/merge/", merging.contact_merge, name="contact_merge"),
    path("contacts/<int:pk>/merge/<int:other_pk>/", merging.contact_merge, name="contact_merge"),
    path("merges/<int:pk>/undo/", merging.merge_undo, name="merge_undo"),
]

# --- CSV import ---------------------------------------------------------------------------------

urlpatterns += [
    path("imports/", importing.import_list, name="import_list"),
    path("imports/new/", importing.import_start, name="import_start"),
    path("imports/<int:pk>/mapping/", importing.import_mapping, name="import_mapping"),
    path("imports/<int:pk>/", importing.import_detail, name="import_detail"),
    path("imports/<int:pk>/rejected.csv", importing.import_rejections, name="import_rejections"),
]

# --- CSV export and bulk update -----------------------------------------------------------------

urlpatterns += [
    path("contacts/export/", exporting.contact_export, name="contact_export"),
    path("contacts/bulk/", bulk.bulk_start, name="bulk_start"),
    path("bulk/<int:pk>/confirm/", bulk.bulk_confirm, name="bulk_confirm"),
    path("bulk/<int:pk>/", bulk.bulk_detail, name="bulk_detail"),
    path("bulk/<int:pk>/progress/", bulk.bulk_progress, name="bulk_progress"),
]
