"""The FAQ (よくある質問) and announcements (お知らせ) on the site.

Entries and announcements a viewer may not see are never listed, found by search or shown as
related; by URL they get access's refusal (log-in page or "not included in your membership")."""

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kizuna.content import access
from kizuna.content.audience import viewer_for
from kizuna.content.feedback import (
    counts_as_member_view,
    dismiss_announcement,
    faq_voter,
    mark_announcement_seen,
    newest_first,
    record_faq_vote,
)
from kizuna.content.models import (
    Announcement,
    Category,
    FaqEntry,
    FaqVote,
)
from kizuna.content.views.site import refused_as_response
from kizuna.crm.normalising import fold_for_search

MAX_QUERY_WORDS = 10
MAX_QUERY_LENGTH = 200

# --- FAQ ----------------------------------------------------------------------------------------


def search_words(query: str) -> list[str]:
    """The query folded as FaqEntry.search_text is (width, kana, case): ﾍﾝﾋﾟﾝ finds 返品's
    entry when its text says ヘンピン or へんぴん; every word must occur."""
    return fold_for_search(query[:MAX_QUERY_LENGTH]).split()[:MAX_QUERY_WORDS]


def faq_list(request):
    """The categories with the entries this viewer may see; `q` searches them."""
    query = request.GET.get("q", "").strip()
    entries = FaqEntry.objects.published().select_related("category")
    for word in search_words(query):
        entries = entries.filter(search_text__contains=word)
    visible = viewer_for(request).visible(entries)
    groups: dict[Category | None, list[FaqEntry]] = {}
    for entry in visible:
        groups.setdefault(entry.category, []).append(entry)
    categories = sorted(groups.items(), key=lambda item: _category_order(item[0]))
    context = {"categories": categories, "query": query, "count": len(visible)}
    return render(request, "content/site/faq_list.html", context)


def _category_order(category: Category | None) -> tuple:
    if category is None:
        return (1, 0, 0)  # entries without a category last
    return (0, category.position, category.pk)


@refused_as_response
def faq_detail(request, pk):
    entry = access.faq_entry_for(request, pk)
    request.tracking_props = {"faq": entry.pk}  # the page view event says which entry
    viewer = viewer_for(request)
    related = viewer.visible(
        entry.related.published().exclude(pk=entry.pk).select_related("category")
    )
    voter = faq_voter(request)
    context = {
        "entry": entry,
        "related": related,
        "voted": voter is not None and FaqVote.objects.filter(entry=entry, voter=voter).exists(),
    }
    response = render(request, "content/site/faq_detail.html", context)
    if not entry.is_public:
        response["X-Robots-Tag"] = "noindex"
    return response


@require_POST
@refused_as_response
def faq_vote(request, pk):
    """Was this helpful? yes / no, once per member or browser. htmx gets the feedback fragment;
    without JavaScript the form posts and comes back to the entry."""
    entry = access.faq_entry_for(request, pk)
    answer = request.POST.get("helpful", "")
    if answer not in ("yes", "no"):
        return HttpResponseBadRequest(_("Answer yes or no."))
    voter = faq_voter(request)
    status = "cannot_vote"
    if voter is not None:
        status = "voted" if record_faq_vote(entry, voter, helpful=answer == "yes") else "had_voted"
    if request.htmx:
        context = {"entry": entry, "voted": voter is not None, "vote_status": status}
        return render(request, "content/site/faq_detail.html#feedback", context)
    if status == "cannot_vote":
        messages.info(
            request, _("To send your answer, please log in or allow cookies for this site.")
        )
    elif status == "voted":
        messages.success(request, _("Thank you for your feedback."))
    else:
        messages.info(request, _("You have already answered for this question."))
    return redirect("content:faq_detail", pk=entry.pk)


# --- Announcements ------------------------------------------------------------------------------


def announcement_list(request):
    viewer = viewer_for(request)
    announcements = viewer.visible(newest_first(Announcement.objects.published()))
    return render(request, "content/site/announcement_list.html", {"announcements": announcements})


@refused_as_response
def announcement_detail(request, pk):
    announcement = access.announcement_for(request, pk)
    viewer = viewer_for(request)
    if counts_as_member_view(viewer):
        mark_announcement_seen(announcement, viewer.contact)
    response = render(
        request, "content/site/announcement_detail.html", {"announcement": announcement}
    )
    if not announcement.is_public:
        response["X-Robots-Tag"] = "noindex"
    return response


@require_POST
@refused_as_response
def announcement_dismiss(request, pk):
    """Close the banner for good. htmx swaps the banner for nothing; without JavaScript the
    form posts and goes back to the page it was on."""
    announcement = access.announcement_for(request, pk)
    contact = viewer_for(request).contact
    if contact is None and not request.user.is_authenticated:
        return redirect_to_login(request.POST.get("next") or request.get_full_path())
    if announcement.dismissible and contact is not None:  # staff without a contact: nothing
        dismiss_announcement(announcement, contact)
    if request.htmx:
        return HttpResponse("")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "content:announcement_list"
    return redirect(target)
