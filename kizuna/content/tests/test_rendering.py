"""Staff Markdown becomes HTML with no way to run script."""

import pytest

from kizuna.content.rendering import render_markdown

XSS = [
    "<script>alert(1)</script>",
    '<img src="x" onerror="alert(1)">',
    "[click](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    '<iframe src="https://evil.example"></iframe>',
    '<svg onload="alert(1)"></svg>',
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
]


@pytest.mark.parametrize("payload", XSS)
def test_no_script_gets_through(payload):
    html = render_markdown(f"本文 {payload} です").lower()
    for danger in ("<script", "onerror", "onload", 'href="javascript', "<iframe", "<svg", "style="):
        assert danger not in html


def test_markdown_renders_headings_lists_tables_and_safe_links():
    html = render_markdown(
        "## 見出し\n\n- 一\n- 二\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n[社](https://example.jp)"
    )
    assert "<h2>見出し</h2>" in html and "<li>一</li>" in html and "<td>1</td>" in html
    assert 'href="https://example.jp"' in html and 'rel="noopener noreferrer nofollow"' in html
