"""Search in content that works in Japanese: the query is folded like the stored text (width,
kana, case — crm's folding) and every word must occur. Content libraries are small (pages and FAQ
entries in the hundreds), so no index is needed; what the viewer may not see is filtered out by
the caller before anything is shown."""

from kizuna.crm.normalising import fold_for_search


def search(queryset, query: str):
    for word in fold_for_search(query).split():
        queryset = queryset.filter(search_text__contains=word)
    return queryset
