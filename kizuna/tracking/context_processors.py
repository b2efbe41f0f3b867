from kizuna.tracking.collector import site_settings
from kizuna.tracking.middleware import CONSENT_COOKIE


def tracking_consent(request) -> dict:
    """Whether the site's pages show the tracking consent banner to this visitor."""
    if request.path.startswith("/console/"):
        return {}
    asked = site_settings.refresh().consent_required
    return {"tracking_consent_banner": asked and CONSENT_COOKIE not in request.COOKIES}
