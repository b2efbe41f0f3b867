"""Markdown from staff (and later members) to safe HTML: markdown-it renders CommonMark, nh3
keeps only an allow-list of tags and attributes, so no script, event handler or javascript: URL
gets through, whatever was typed — raw HTML in the Markdown included."""

import nh3
from markdown_it import MarkdownIt

from kizuna.crm.normalising import fold_for_search

ALLOWED_TAGS = {
    "p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "th": {"align"},
    "td": {"align"},
    "ol": {"start"},
}
# "table" turns on GitHub-style tables; raw HTML is rendered, then sanitised like the rest.
_markdown = MarkdownIt("commonmark", {"html": True, "linkify": False}).enable("table")


def render_markdown(text: str) -> str:
    html = _markdown.render(text or "")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def search_document(*texts: str) -> str:
    """Text folded the way crm's search folds queries (width, kana, case)."""
    return fold_for_search(" ".join(texts))
