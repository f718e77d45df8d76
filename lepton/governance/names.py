"""Person names without a model, so the first batch (before any champion exists) is not
blind to them: a given name from the name dictionary that `gender-guesser` ships (Jörg
Michael's, about 48,000 given names from over 50 countries) followed by a capitalised
surname, or a title (Mr, Dr...) followed by a capitalised name.

Rule-based and offline: it finds "Ana Silva" and "Dr. Okafor", not "ana silva" or a lone
"Ana". The champion model, once there is one, finds names in any casing and adds to these.
"""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Callable
from functools import lru_cache

_UP, _LOW = "A-ZÀ-ÖØ-Þ", "a-zß-öø-ÿ"
# a capitalised word: Silva, O'Neill, McDonald, Jean-Luc
WORD = re.compile(rf"[{_UP}](?:['’][{_UP}])?[{_LOW}]+(?:[{_UP}][{_LOW}]+)?(?:[-'’][{_UP}]?[{_LOW}]+)*")
TITLES = ("Mr", "Mrs", "Ms", "Miss", "Mx", "Dr", "Prof", "Sir", "Dame", "Lady", "Lord")


@lru_cache(maxsize=1)
def given_names() -> frozenset[str]:
    """Capitalised given names from the dictionary (a "+" in it joins parts: "Ann+Marie" is
    "AnnMarie", "Ann Marie" and "Ann-Marie"; only single words are kept)."""
    text = (importlib.resources.files("gender_guesser") / "data" / "nam_dict.txt").read_text(encoding="utf-8")
    out = set()
    for line in text.splitlines():
        if not line or line[0] in "#=":
            continue
        parts = line.split()
        if len(parts) < 2:
            continue
        for joined in (parts[1].replace("+", ""), parts[1].replace("+", "-")):
            if joined[:1].isupper():
                out.add(joined)
    return frozenset(out)


def gazetteer_person_detector(not_names: frozenset[str] = frozenset()) -> Callable[[str], list]:
    """`not_names`: given names that are mostly other words in the corpus's language (the
    policy's `not_given_names`), never taken as the start of a name."""
    from lepton.governance.pii import Finding

    names = given_names() - not_names
    titles = frozenset(TITLES)

    def detect(text: str) -> list[Finding]:
        words = list(WORD.finditer(text))
        found, i = [], 0
        while i < len(words):
            w = words[i]
            titled = w.group() in titles
            if titled or w.group() in names:
                j = i + 1
                # the name's words: capitalised, one space (or a title's full stop and a space)
                # apart, three at most, none of them a word that never starts a name
                while (j < len(words) and j - i <= 3 and words[j].group() not in not_names
                       and _adjacent(text, words[j - 1], words[j], titled and j == i + 1)):
                    j += 1
                first = i + 1 if titled else i
                if j - first >= (1 if titled else 2):
                    found.append(Finding("PERSON", words[first].start(), words[j - 1].end(), "gazetteer.names", 0.6))
                    i = j
                    continue
            i += 1
        return found
    return detect


def _adjacent(text: str, a: re.Match, b: re.Match, after_title: bool) -> bool:
    gap = text[a.end():b.start()]
    return gap == " " or (after_title and gap == ". ")
