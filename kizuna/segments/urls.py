"""The segments app's console screens, under /console/."""

from django.urls import path

from kizuna.segments.views import console

app_name = "segments"

# "add", "count" and "catalog" are screens: forms.RESERVED_SLUGS keeps segments from taking them.
# (Not "new": that is the predefined "New" segment's slug.)
urlpatterns = [
    path("segments/", console.segment_list, name="segment_list"),
    path("segments/add/", console.segment_create, name="segment_create"),
    path("segments/count/", console.segment_count, name="segment_count"),
    path("segments/catalog/", console.builder_catalog_json, name="builder_catalog"),
    path("segments/<slug:slug>/", console.segment_detail, name="segment_detail"),
    path("segments/<slug:slug>/edit/", console.segment_edit, name="segment_edit"),
    path("segments/<slug:slug>/refresh/", console.segment_refresh, name="segment_refresh"),
    path("segments/<slug:slug>/why/", console.segment_why_lookup, name="segment_why_lookup"),
    path("segments/<slug:slug>/why/<int:contact_pk>/", console.segment_why, name="segment_why"),
    path("contacts/<int:pk>/segments/", console.contact_segments, name="contact_segments"),
]
