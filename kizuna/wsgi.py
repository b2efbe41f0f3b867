"""WSGI entry point: granian --interface wsgi kizuna.wsgi:application

The tracking collector answers /t/collect and /t/p.gif before Django's middleware stack (the hot
path, kizuna/tracking/collector.py); every other request goes to Django.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kizuna.settings")
django_application = get_wsgi_application()

from kizuna.tracking.collector import TrackingCollector  # noqa: E402 - needs Django set up

application = TrackingCollector(django_application)
