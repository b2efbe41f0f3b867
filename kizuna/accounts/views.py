from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def my_page(request):
    return render(request, "accounts/site/my_page.html")
