"""Content on the site: /pages/…, download links, the sitemap."""

from django.contrib.sitemaps.views import sitemap
from django.urls import path

from kizuna.content import site_urls_faq
from kizuna.content.sitemaps import SITEMAPS
from kizuna.content.views import site

app_name = "content"

urlpatterns = [
    path("pages/", site.page_list, name="page_list"),
    path("pages/<str:slug>/", site.page_detail, name="page_detail"),
    path("pages/<str:slug>/files/<int:file_id>/", site.page_file, name="page_file"),
    path("pages/<str:slug>/video/", site.page_video, name="page_video"),
    path("pages/<str:slug>/video/progress/", site.video_progress, name="video_progress"),
    path("files/link/<str:token>/", site.signed_file, name="signed_file"),
    path("sitemap.xml", sitemap, {"sitemaps": SITEMAPS}, name="sitemap"),
    *site_urls_faq.urlpatterns,
]
