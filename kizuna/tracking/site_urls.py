"""Public tracking URLs. /t/collect and /t/p.gif are answered by kizuna.wsgi before Django in
production; these routes serve them under runserver and the test client."""

from django.urls import path

from kizuna.tracking.views import site

app_name = "tracking_site"

urlpatterns = [
    path("t/kizuna.js", site.snippet, name="snippet"),
    path("t/collect", site.collect, name="collect"),
    path("t/p.gif", site.pixel, name="pixel"),
    path("t/consent/", site.consent, name="consent"),
]
