from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

from kizuna.crm.search import ensure_search_index


class CrmConfig(AppConfig):
    name = "kizuna.crm"
    label = "crm"
    verbose_name = _("Customer database")

    def ready(self):
        from kizuna.core import navigation

        # SQLite drops triggers when a later migration rebuilds crm_contact: put them back.
        post_migrate.connect(restore_search_index, sender=self)
        navigation.register_console_item(
            key="contacts",
            label=_("Contacts"),
            url_name="crm:contact_list",
            icon="people",
            order=10,
        )
        navigation.register_console_item(
            key="companies",
            label=_("Companies"),
            url_name="crm:company_list",
            icon="building",
            order=20,
        )
        navigation.register_console_item(
            key="fields",
            label=_("Fields and record types"),
            url_name="crm:field_list",
            icon="columns",
            group=navigation.SYSTEM,
            order=10,
        )


def restore_search_index(sender, using, **kwargs):
    ensure_search_index(connections[using])
