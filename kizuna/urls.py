from django.urls import include, path

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("allauth.urls")),
    path("console/", include("kizuna.console.urls")),
    path("console/", include("kizuna.crm.urls")),
    path("console/", include("kizuna.tracking.urls")),
    path("console/", include("kizuna.segments.urls")),
    path("console/", include("kizuna.members.urls")),
    path("console/", include("kizuna.content.urls")),
    path("", include("kizuna.members.site_urls")),
    path("", include("kizuna.content.site_urls")),
    path("", include("kizuna.crm.site_urls")),
    path("", include("kizuna.tracking.site_urls")),
    path("", include("kizuna.core.urls")),
]
