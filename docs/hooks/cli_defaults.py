"""MkDocs hook: options without a default show "none" on the CLI page.

mkdocs-click prints ``param.default`` as it finds it; click 8.3 and later mark an option
that has no default with a sentinel whose text (``Sentinel.UNSET``) means nothing to a
reader.
"""

from __future__ import annotations


def on_page_content(html: str, page, config, files) -> str:
    return html.replace("<code>Sentinel.UNSET</code>", "none")
