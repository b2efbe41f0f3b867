"""The members app's console screens, under /console/."""

from django.urls import path

from kizuna.members.views import console

app_name = "members"

urlpatterns = [
    path("members/", console.member_list, name="member_list"),
    path("members/approvals/", console.approval_queue, name="approval_queue"),
    path("members/invite/", console.invite_segment, name="invite_segment"),
    path("members/invite/contact/", console.invite_contact_view, name="invite_contact"),
    path("registration/settings/", console.registration_settings, name="settings"),
    path("members/tiers/", console.tier_list, name="tier_list"),
    path("members/tiers/add/", console.tier_create, name="tier_create"),
    path("members/tiers/<int:pk>/", console.tier_edit, name="tier_edit"),
    path("members/tiers/<int:pk>/delete/", console.tier_delete, name="tier_delete"),
    path("members/<int:pk>/", console.member_detail, name="member_detail"),
    path("members/<int:pk>/tier/", console.member_tier, name="member_tier"),
    path("members/<int:pk>/approve/", console.member_approve, name="member_approve"),
    path("members/<int:pk>/reject/", console.member_reject, name="member_reject"),
    path("members/<int:pk>/suspend/", console.member_suspend, name="member_suspend"),
    path("members/<int:pk>/reactivate/", console.member_reactivate, name="member_reactivate"),
    path("members/<int:pk>/resend/", console.member_resend, name="member_resend"),
    path(
        "members/<int:pk>/password-reset/",
        console.member_password_reset,
        name="member_password_reset",
    ),
    path("members/<int:pk>/erase/", console.member_erase, name="member_erase"),
    path(
        "contacts/<int:contact_pk>/membership/",
        console.contact_membership,
        name="contact_membership",
    ),
]
