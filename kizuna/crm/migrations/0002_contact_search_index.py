from django.db import migrations


def create_search_index(apps, schema_editor):
    from kizuna.crm.search import ensure_search_index

    ensure_search_index(schema_editor.connection)


def drop_search_index(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        if schema_editor.connection.vendor == "postgresql":
            cursor.execute("DROP INDEX IF EXISTS crm_contact_search")
        elif schema_editor.connection.vendor == "sqlite":
            for trigger in ("insert", "delete", "update"):
                cursor.execute(f"DROP TRIGGER IF EXISTS crm_contact_search_{trigger}")
            cursor.execute("DROP TABLE IF EXISTS crm_contact_search")


class Migration(migrations.Migration):
    dependencies = [("crm", "0001_initial")]

    operations = [migrations.RunPython(create_search_index, drop_search_index)]
