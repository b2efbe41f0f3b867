"""The demo company: each app adds its part in its own demo.py with @demo_loader.

Loaders run in INSTALLED_APPS order (upstream apps first), share one seeded random generator so
the data is the same on every machine, and must be idempotent: running `demo` twice adds nothing.
"""

import random
from collections.abc import Callable, Iterable

from django.apps import apps
from django.db import transaction
from django.utils.module_loading import autodiscover_modules

DEMO_SEED = 20261122

DemoLoader = Callable[[random.Random], Iterable[str]]
_loaders: dict[str, DemoLoader] = {}


def demo_loader(func: DemoLoader) -> DemoLoader:
    """Register `func(rng)`, which creates demo data and yields lines to print."""
    _loaders[func.__module__] = func
    return func


def load_demo(rng: random.Random) -> list[str]:
    autodiscover_modules("demo")
    lines = []
    with transaction.atomic():
        for app in apps.get_app_configs():
            loader = _loaders.get(f"{app.name}.demo")
            if loader is not None:
                lines.extend(loader(rng))
    return lines
