from django.contrib.auth import get_user_model

from kizuna.core.demo import demo_loader

DEMO_PASSWORD = "kizuna-demo-2026"  # noqa: S105 - printed for the local demo on purpose
DEMO_STAFF = [
    # email, name, superuser
    ("admin@kizuna.example", "管理 花子", True),
    ("sato@kizuna.example", "佐藤 健太", False),
    ("suzuki@kizuna.example", "鈴木 美咲", False),
]


@demo_loader
def load(rng):
    User = get_user_model()
    for email, name, superuser in DEMO_STAFF:
        if User.objects.filter(email__iexact=email).exists():
            continue
        user = User(email=email, name=name, is_staff=True, is_superuser=superuser, language="ja")
        user.set_password(DEMO_PASSWORD)
        user.save()
        user.emailaddress_set.create(email=email, verified=True, primary=True)
    yield f"Console: log in as {DEMO_STAFF[0][0]} with the password {DEMO_PASSWORD}"
    yield f"Sales reps: {DEMO_STAFF[1][0]}, {DEMO_STAFF[2][0]} (same password)"
