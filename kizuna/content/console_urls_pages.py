"""Console routes for pages, files, staff picks, view-as and stats (namespace content_console).

Pages are addressed by id here: their slug may be Japanese and is the site's business."""

from django.urls import path

from kizuna.content.views import console_pages as views

urlpatterns = [
    path("content/pages/", views.page_list, name="page_list"),
    path("content/pages/add/", views.page_create, name="page_create"),
    path("content/pages/preview/", views.page_preview, name="page_preview"),
    path("content/pages/<int:pk>/", views.page_detail, name="page_detail"),
    path("content/pages/<int:pk>/edit/", views.page_edit, name="page_edit"),
    path("content/pages/<int:pk>/delete/", views.page_delete, name="page_delete"),
    path("content/pages/<int:pk>/files/", views.page_file_add, name="page_file_add"),
    path(
        "content/pages/<int:pk>/files/<int:file_id>/title/",
        views.page_file_rename,
        name="page_file_rename",
    ),
    path(
        "content/pages/<int:pk>/files/<int:file_id>/move/",
        views.page_file_move,
        name="page_file_move",
    ),
    path(
        "content/pages/<int:pk>/files/<int:file_id>/remove/",
        views.page_file_remove,
        name="page_file_remove",
    ),
    path("content/pages/<int:pk>/view-as/", views.page_view_as, name="page_view_as"),
    path(
        "content/pages/<int:pk>/view-as/<int:contact_pk>/",
        views.page_view_as_frame,
        name="page_view_as_frame",
    ),
    path("content/picks/", views.pick_list, name="pick_list"),
    path("content/picks/add/", views.pick_create, name="pick_create"),
    path("content/picks/<int:pk>/", views.pick_edit, name="pick_edit"),
    path("content/picks/<int:pk>/delete/", views.pick_delete, name="pick_delete"),
    path("content/picks/<int:pk>/move/", views.pick_move, name="pick_move"),
]
