from django.shortcuts import render

from kizuna.console.dashboard import dashboard_figures
from kizuna.core.access import staff_required


@staff_required
def dashboard(request):
    return render(request, "console/dashboard.html", {"figures": dashboard_figures()})
