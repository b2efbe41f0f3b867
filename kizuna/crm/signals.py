"""Signals the crm app sends. Downstream apps (tracking, members, support, …) listen to them; the
crm app never imports them (DESIGN.md's arrows). Each is sent after the transaction commits."""

from django.dispatch import Signal

contact_merged = Signal()
"""Two contacts were merged (kizuna.crm.merging.merge_contacts). Sent with sender=Contact and:

- survivor: the Contact that was kept; every row that pointed at the other contact now points here;
- merged_contact_id: int, the id of the contact merged into it (that row no longer exists until
  the merge is undone, when it comes back with this id);
- merge: the ContactMerge holding the snapshot that makes the undo possible.
"""

merge_undone = Signal()
"""A merge was undone (kizuna.crm.merging.undo_merge). Sent with sender=Contact and:

- survivor: the Contact that had been kept, with its values from before the merge (except fields
  changed since, which stay as they are);
- restored: the Contact brought back, with its original id, values and rows;
- merge: the ContactMerge, now with undone_at set.
"""
