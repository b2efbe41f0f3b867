"""End every session of a user at once (withdrawal, suspension, erasure, forced reset).

allauth's usersessions lists the sessions a user logged in with; the session rows themselves are
deleted through the session store. Deactivating the user covers any session the list missed:
Django refuses an inactive user's session on its next request."""

from allauth.usersessions.adapter import get_adapter
from allauth.usersessions.models import UserSession


def end_all_sessions(user) -> int:
    sessions = list(UserSession.objects.filter(user=user))
    get_adapter().end_sessions(sessions)
    return len(sessions)
