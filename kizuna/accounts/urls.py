from django.urls import path

from kizuna.accounts import views

app_name = "accounts"

urlpatterns = [
    path("mypage/", views.my_page, name="my_page"),
]
