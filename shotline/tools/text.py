"""Small text facts shared by every stage: which characters are CJK, and whether a text names someone.

Chinese, Japanese and Korean have no spaces or letter case, so word boundaries and capitals cannot
be the only tests; every module asks here instead of keeping its own rules.
"""

from __future__ import annotations

import re

CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
CJK_RE = re.compile(f"[{CJK}]")


def has_cjk(text: str) -> bool:
    return CJK_RE.search(text) is not None


def mentions(text: str, name: str) -> bool:
    """Whether `text` names `name`: as a whole word, any case; CJK names by substring."""
    if has_cjk(name):
        return name in text
    return re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text, re.IGNORECASE) is not None
