"""The member's screens on the site (My Page, invitation)."""

from django.urls import path

from kizuna.members.views import site

app_name = "members_site"

urlpatterns = [
    path("mypage/", site.my_page, name="my_page"),
    path("mypage/profile/", site.profile_edit, name="profile_edit"),
    path("mypage/withdraw/", site.withdraw, name="withdraw"),
    path("mypage/my-data.json", site.data_export, name="data_export"),
    path("mypage/files/<slug:key>/", site.my_file, name="my_file"),
    path("members/invitation/<uidb64>/<token>/", site.accept_invitation, name="accept_invitation"),
]
