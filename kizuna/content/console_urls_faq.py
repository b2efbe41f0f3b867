"""Console routes for the FAQ and announcements."""

from django.urls import path

from kizuna.content.views import console_faq

urlpatterns = [
    path("content/faq/", console_faq.faq_list, name="faq_list"),
    path("content/faq/add/", console_faq.faq_create, name="faq_create"),
    path("content/faq/<int:pk>/", console_faq.faq_edit, name="faq_edit"),
    path("content/faq/<int:pk>/delete/", console_faq.faq_delete, name="faq_delete"),
    path("content/categories/", console_faq.category_list, name="category_list"),
    path("content/categories/add/", console_faq.category_create, name="category_create"),
    path("content/categories/<int:pk>/", console_faq.category_edit, name="category_edit"),
    path(
        "content/categories/<int:pk>/delete/",
        console_faq.category_delete,
        name="category_delete",
    ),
    path("content/announcements/", console_faq.announcement_list, name="announcement_list"),
    path(
        "content/announcements/add/",
        console_faq.announcement_create,
        name="announcement_create",
    ),
    path(
        "content/announcements/<int:pk>/",
        console_faq.announcement_edit,
        name="announcement_edit",
    ),
    path(
        "content/announcements/<int:pk>/delete/",
        console_faq.announcement_delete,
        name="announcement_delete",
    ),
]
