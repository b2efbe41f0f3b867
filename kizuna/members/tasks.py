"""Background work of the members app. Tasks take ids (and a selection, which is ids or a
filter) only and call the operation."""

from django.tasks import task

from kizuna.members import inviting


@task
def invite_selection(selection: dict, by_id: int) -> None:
    """Invite a large selection or segment. Delivered twice, it invites nobody twice: contacts
    with a membership are skipped (inviting.invite_contacts)."""
    inviting.run_invite_selection(selection, by_id)
