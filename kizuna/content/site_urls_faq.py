"""Site routes for the FAQ and announcements."""

from django.urls import path

from kizuna.content.views import faq

urlpatterns = [
    path("faq/", faq.faq_list, name="faq_list"),
    path("faq/<int:pk>/", faq.faq_detail, name="faq_detail"),
    path("faq/<int:pk>/vote/", faq.faq_vote, name="faq_vote"),
    path("announcements/", faq.announcement_list, name="announcement_list"),
    path("announcements/<int:pk>/", faq.announcement_detail, name="announcement_detail"),
    path("announcements/<int:pk>/dismiss/", faq.announcement_dismiss, name="announcement_dismiss"),
]
