import random

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from kizuna.core.demo import DEMO_SEED, load_demo


class Command(BaseCommand):
    help = (
        "Load the deterministic Japanese demo company (an admin, two sales reps and data for "
        "every app). Running it again adds nothing twice."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty", action="store_true", help="Only when the database has no users yet."
        )
        parser.add_argument(
            "--force", action="store_true", help="Load even with KIZUNA_DEBUG off (production)."
        )
        parser.add_argument("--seed", type=int, default=DEMO_SEED, help="Random seed.")

    def handle(self, *, if_empty, force, seed, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "Refusing to load demo data with KIZUNA_DEBUG off; add --force if you mean it."
            )
        if if_empty and get_user_model().objects.exists():
            self.stdout.write("The database already has data; demo data not loaded.")
            return
        for line in load_demo(random.Random(seed)):  # noqa: S311 - demo data, not secrets
            self.stdout.write(line)
