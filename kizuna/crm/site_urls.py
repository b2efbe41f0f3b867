"""crm's public routes (not under /console/): the postal-code lookup forms use."""

from django.urls import path

from kizuna.crm.views import postal_codes

app_name = "crm_site"

urlpatterns = [
    path("postal-codes/<str:code>.json", postal_codes.postal_code, name="postal_code"),
]
