"""The tracking app's console screens, under /console/. (The collector's /t/ URLs are elsewhere:
they are not console screens.)"""

from django.urls import path

from kizuna.tracking.views import console

app_name = "tracking"

urlpatterns = [
    path("visitors/", console.visitor_list, name="visitor_list"),
    # <path:>: ids from imports or the API may hold a "/"; the snippet's never do.
    path("visitors/<path:visitor_id>/", console.visitor_detail, name="visitor_detail"),
    path("tracking/top-pages/", console.top_pages, name="top_pages"),
    path("tracking/settings/", console.tracking_settings, name="settings"),
    path("contacts/<int:pk>/activity/", console.contact_activity, name="contact_activity"),
]
