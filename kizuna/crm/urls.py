"""The crm app's console screens, all under /console/. One section per group of screens."""

from django.urls import path

app_name = "crm"

urlpatterns = []

# --- Contacts, companies, records, notes, tags, saved views, files, postal codes ----------------

# --- Field designer, record types, duplicates and merge -----------------------------------------

# --- CSV import ---------------------------------------------------------------------------------

# --- CSV export and bulk update -----------------------------------------------------------------

del path  # remove when the first section adds its routes
