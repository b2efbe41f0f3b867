"""Content in the console, under /console/content/ (the editors' modules add their routes)."""

from kizuna.content import console_urls_faq, console_urls_pages

app_name = "content_console"

urlpatterns = [*console_urls_pages.urlpatterns, *console_urls_faq.urlpatterns]
