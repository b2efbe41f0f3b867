"""Console screens for companies: list, detail, create / edit / delete, and the company
suggestions of the contact and record forms."""

from django.contrib import messages
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from kizuna.core.access import staff_required
from kizuna.crm import companies, normalising
from kizuna.crm.forms import CompanyForm, company_choice_label, detail_groups
from kizuna.crm.models import Company, Contact, FieldDefinition, Record

PAGE_SIZE = 50
OPTIONS_LIMIT = 20


@staff_required
def company_list(request):
    """Companies by name, keyset-paged on (name, id); searched by name, kana or domain."""
    query = normalising.normalize_text(request.GET.get("q", ""))[:200]
    queryset = Company.objects.select_related("owner")
    if query:
        queryset = queryset.filter(
            Q(name__icontains=query)
            | Q(name_kana__icontains=normalising.normalize_kana(query))
            | Q(domain__icontains=query)
        )
    after_name, after_id = request.GET.get("after_name"), request.GET.get("after_id", "")
    if after_name is not None and after_id.isdigit():
        queryset = queryset.filter(name__gte=after_name).exclude(
            name=after_name, id__lte=int(after_id)
        )
    rows = list(queryset.order_by("name", "id")[: PAGE_SIZE + 1])
    next_page = rows[PAGE_SIZE - 1] if len(rows) > PAGE_SIZE else None
    rows = rows[:PAGE_SIZE]
    counts = dict(
        Contact.objects.filter(company__in=rows)
        .values("company")
        .annotate(count=Count("id"))
        .values_list("company", "count")
    )
    for company in rows:
        company.contact_count = counts.get(company.pk, 0)
    context = {"companies": rows, "query": query, "next_page": next_page}
    return render(request, "crm/console/company_list.html", context)


@staff_required
def company_detail(request, pk):
    company = get_object_or_404(Company.objects.select_related("owner"), pk=pk)
    definitions = list(FieldDefinition.objects.for_companies().active())
    context = {
        "company": company,
        "groups": detail_groups(CompanyForm, company, definitions),
        "contacts": list(
            company.contacts.select_related("owner").order_by("family_name_kana", "id")[:200]
        ),
        "contact_total": company.contacts.count(),
        "records": list(
            Record.objects.filter(company=company).select_related("record_type", "contact")[:100]
        ),
    }
    return render(request, "crm/console/company_detail.html", context)


@staff_required
def company_create(request):
    form = CompanyForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        company = companies.create_company(form.instance, by=request.user, uploads=form.uploads)
        messages.success(request, _("The company was added."))
        return redirect("crm:company_detail", company.pk)
    return render(request, "crm/console/company_form.html", {"form": form, "company": None})


@staff_required
def company_edit(request, pk):
    company = get_object_or_404(Company, pk=pk)
    form = CompanyForm(request.POST or None, request.FILES or None, instance=company)
    if request.method == "POST" and form.is_valid():
        companies.update_company(form.instance, by=request.user, uploads=form.uploads)
        messages.success(request, _("The company was saved."))
        return redirect("crm:company_detail", company.pk)
    return render(request, "crm/console/company_form.html", {"form": form, "company": company})


@staff_required
def company_delete(request, pk):
    company = get_object_or_404(Company, pk=pk)
    if request.method == "POST":
        companies.delete_company(company, by=request.user)
        messages.success(request, _("The company was deleted."))
        return redirect("crm:company_list")
    contact_count = company.contacts.count()
    context = {"company": company, "contact_count": contact_count}
    return render(request, "crm/console/company_delete.html", context)


@staff_required
def company_options(request):
    """<option>s for the company box's datalist: names starting with, then containing, the text."""
    text = normalising.normalize_text(request.GET.get("company") or request.GET.get("q") or "")
    text = text.split(" (#")[0][:100]
    options = []
    if text:
        starting = list(
            Company.objects.filter(name__startswith=text).order_by("name", "id")[:OPTIONS_LIMIT]
        )
        if len(starting) < OPTIONS_LIMIT:
            seen = [company.pk for company in starting]
            starting += list(
                Company.objects.filter(name__icontains=text)
                .exclude(pk__in=seen)
                .order_by("name", "id")[: OPTIONS_LIMIT - len(starting)]
            )
        shared_names = set(
            Company.objects.filter(name__in={company.name for company in starting})
            .values("name")
            .annotate(count=Count("id"))
            .filter(count__gt=1)
            .values_list("name", flat=True)
        )
        options = [
            (company_choice_label(company, company.name in shared_names), company)
            for company in starting
        ]
    return render(request, "crm/console/company_options.html", {"options": options})
