from django.urls import path

from kizuna.core.views import console, site

app_name = "core"

urlpatterns = [
    path("", site.home, name="home"),
    path("healthz", site.healthz, name="healthz"),
    path("console/outbox/", console.outbox_list, name="outbox_list"),
    path("console/outbox/<int:message_id>/", console.outbox_detail, name="outbox_detail"),
    path("console/outbox/<int:message_id>/html/", console.outbox_html, name="outbox_html"),
    path("console/audit/", console.audit_list, name="audit_list"),
]
