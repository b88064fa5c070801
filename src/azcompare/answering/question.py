"""What a question asks for: the shape of answer it expects and the specific things it names.

The shape decides how an answer starts (a verdict, a side-by-side table, a value, steps, a list);
the specific things (a price, an SLA figure, a region, a date, a named model) must be in the
evidence for the answer to be whole. When the topic is covered but one of them is not, the answer
says so instead of quoting what is merely nearby.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from py3langid import langid
from py3langid.langid import LanguageIdentifier

from azcompare.corpus.sources import SourcesError, load_source_list
from azcompare.settings import Settings
from azcompare.text import STOPWORDS

Shape = Literal["yes_no", "compare", "number", "howto", "list", "open"]

_AUXILIARY = r"(is|are|does|do|can|could|will|would|should|has|have|was|were|did|may|must|am)\b"
_YES_NO = re.compile("^" + _AUXILIARY, re.IGNORECASE)
_COMPARE = re.compile(
    r"\b(differen\w*|differ|compare[sd]?|comparison|versus|vs\.?|better|cheaper|worse|faster|"
    r"more (secure|private|expensive|reliable)|which (one|service|is|should))\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(
    r"\bhow (many|much|long|large|big|often|fast)\b|\b(what|which)('s| is| are)? (the )?(\w+ ){0,2}"
    r"(limit|maximum|max|minimum|quota|size|rate|number of|percentage|ttl|retention period|tpm|rpm)\b",
    re.IGNORECASE,
)
_HOWTO = re.compile(
    r"^(how (do|can|should|would) (i|we|you)|how to|what (are the )?steps|steps to|walk me through)\b",
    re.IGNORECASE,
)
_LIST = re.compile(r"^(which|what|list|name)\b.*\b(are|types|kinds|models|regions|roles|options|categories)\b")

# Every question is about these unless it names one: "do both platforms…" means OpenAI and Azure OpenAI.
SUBJECT = "OpenAI Azure OpenAI"
_SERVICES = re.compile(r"\b(azure openai|openai)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Want:
    """One specific thing a question asks for, and what shows it in a passage."""

    label: str  # how an answer names it when absent: "a price", "an SLA figure", "the region West Europe"
    # a value: price | sla | date | duration | rate | size | count | languages | models; a subject: region | name
    kind: str
    pattern: re.Pattern[str]

    def found_in(self, text: str) -> bool:
        """Whether the text holds it."""
        return self.pattern.search(text) is not None


# Kinds of wants that are a value (what the answer must state) and kinds that name what it is for.
VALUE_KINDS = frozenset({"price", "sla", "date", "duration", "rate", "size", "count", "languages", "models", "regions"})
SUBJECT_KINDS = frozenset({"region", "name"})


@dataclass(frozen=True)
class Ask:
    """A question read for what it asks."""

    question: str
    shape: Shape
    wants: tuple[Want, ...]
    language: str  # ISO 639-1 code; "en" unless clearly another language

    @property
    def english(self) -> bool:
        return self.language == "en"

    def missing_from(self, passages: Sequence[str], best: Sequence[str]) -> list[str]:
        """What of the asked-for things the evidence lacks, as an answer would name it.

        A named subject (a region, a model) must be in some retrieved passage; a value (a price, a
        date, a rate…) in one of the `best` sentences for the question, with the subject when both are
        asked for (a price for a region, a rate for a model): a figure elsewhere in a long passage is
        about something else. A model asked about in a region must be named with it (a row of the region's
        models, or the model's row of regions): a region's row without the model says nothing of it, and
        the region is missing for it.
        """
        subjects = [w for w in self.wants if w.kind in SUBJECT_KINDS]
        values = [w for w in self.wants if w.kind in VALUE_KINDS]
        missing = [
            w.label
            for w in self.wants
            if not any(w.found_in(t) for t in (passages if w.kind in SUBJECT_KINDS else best))
        ]
        units = [u for p in passages for u in re.split(r"(?<=[.!?])\s+|\n", p)]
        regions = [w for w in subjects if w.kind == "region"]
        names = [w for w in subjects if w.kind == "name"]
        if not missing and regions and names and not values:
            return [] if any(all(w.found_in(u) for w in subjects) for u in units) else [r.label for r in regions]
        if missing or not (values and subjects):
            return missing
        together = any(all(w.found_in(u) for w in (*values, *subjects)) for u in units)
        return [] if together else [f"{values[0].label} for {' and '.join(s.label for s in subjects)}"]

    def lists_other_regions(self, statement: str) -> bool:
        """Whether a statement is the asked-for model's row of regions, without the region asked for
        ("o9-max: Region: Norway East & Brazil South" for "Is o9-max offered in Japan East?"): the model
        is not offered there. Data zones are left out: a zone holds regions a row names one by one."""
        regions = [w for w in self.wants if w.kind == "region" and w.label.startswith("the region ")]
        names = [w for w in self.wants if w.kind == "name"]
        label, colon, _ = statement.partition(":")
        if not (regions and names and colon) or not any(n.found_in(label) for n in names):
            return False
        return _REGION_IN_QUESTION.search(statement) is not None and not any(r.found_in(statement) for r in regions)


_PRICE_Q = re.compile(
    r"\b(cost|costs|price|prices|pricing|priced|cheaper|cheapest|expensive|billed|billing|"
    r"free (tier|trial|credits?|plan|usage))\b",
    re.IGNORECASE,
)
# An amount of money, or a relative price ("50% cost savings", "a 50% discount").
_MONEY = r"[$€£]\s?\d|\b\d+(?:[.,]\d+)?\s?(?:usd|eur|gbp|dollars?|euros?)\b"
_PRICE = re.compile(
    _MONEY + r"|\d+(?:\.\d+)?\s?%\s+(?:\w+\s+){0,2}(?:cost|savings?|discount|cheaper|less)", re.IGNORECASE
)
# What something costs is an amount of money, which a relative price ("a 50% discount") does not give; a
# question that compares prices or asks how something is priced or billed is answered by one.
_RELATIVE_PRICE_Q = re.compile(r"\b(discounts?|savings?|less|lower|priced|pricing|billed|billing)\b", re.IGNORECASE)
_SLA_Q = re.compile(r"\b(sla|service level|uptime|availability guarantee|guaranteed availability)\b", re.IGNORECASE)
_SLA = re.compile(
    r"\b(sla|service level|uptime)\b[^.]*?\d{2}(?:\.\d+)?\s?%|\d{2}(?:\.\d+)?\s?%[^.]*?\b(sla|uptime)\b", re.IGNORECASE
)
_DATE_Q = re.compile(
    r"^when (will|did|does|do|is|was|are|were|can|could|should|has|have)\b|\bsince when\b|\bby when\b"
    r"|\bwhat year\b|\b(what|which|exact|the)\b[^?]{0,20}\bdate\b|\b(knowledge |training )?(cutoff|cut-off)\b",
    re.IGNORECASE,
)
# "How many (business) days / how long / how often / in seconds": a duration or an interval.
_TIME_UNITS = r"(?:(?:business|working|calendar)\s+)?(?:days?|hours?|weeks?|months?|years?|minutes?|(?:milli)?seconds?)"
_DURATION_Q = re.compile(
    rf"\bhow (many|much) {_TIME_UNITS}\b|\bhow (long|often)\b|\bin (milli)?seconds\b"
    r"|\b(retention|expiry|expiration|notice) (period|time|window)\b|\bttl\b",
    re.IGNORECASE,
)
_DURATION = re.compile(
    rf"\b\d+\s?(?:-\s?)?(?:{_TIME_UNITS}|ms)\b"
    r"|\bevery\s+(?:\d+\s+)?(?:day|week|month|year|hour)s?\b|\b(?:daily|weekly|monthly|annually|yearly|hourly)\b",
    re.IGNORECASE,
)
# "How many tokens per second / requests per minute": a rate, by its unit or its abbreviation.
_RATE_Q = re.compile(
    r"\b(tokens|requests|calls|images|words)[\s-]+(?:per|a|each)[\s-]+(second|minute|hour|day)\b", re.IGNORECASE
)
# "How much storage / what is the maximum file size": a size with its unit.
_SIZE_Q = re.compile(r"\b(file size|size limit|storage|disk space|memory|how big|how large|maximum size)\b", re.I)
_SIZE = re.compile(r"\d[\d,.]*\s?(?:[KMGT]i?B|bytes?|kilobytes?|megabytes?|gigabytes?)\b", re.IGNORECASE)
_RATE_ABBREVIATION = {("tokens", "minute"): "TPM", ("requests", "minute"): "RPM", ("tokens", "second"): "TPS"}
_RATE_SHORT_Q = re.compile(r"\b(" + "|".join(_RATE_ABBREVIATION.values()) + r")\b")  # upper case only
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
# A model's version in brackets ("gpt-4.1 (2025-04-14)") names the model; it is no date the model is given.
_DATE = re.compile(
    rf"\b({_MONTHS})\b[ ,0-9]*\b20\d\d\b|(?<!\()\b20\d\d-\d\d(-\d\d)?\b(?![-\d]*\))"
    r"|\b\d{1,2}/\d{1,2}/20\d\d\b",
    re.I,
)
# "How many X / the maximum number of X": a count of X, stated as a figure beside the thing counted. A count
# of a unit (days, tokens per minute, dollars) is a duration, a rate or a price instead.
_COUNT_Q = re.compile(r"\b(?:how many|number of)\s+((?:[\w-]+\s+){0,3}[\w-]+)", re.IGNORECASE)
_UNIT_WORDS = frozenset(
    "second minute hour day week month year millisecond business working calendar dollar euro pound cent percent "
    "byte kb mb gb tb token request call image word time".split()
)
_NUMBER_WORDS = r"(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozen)"
_COUNT_ENDS = frozenset({"per", "via", "across", "allowed", "available", "supported"})
# "Which languages…": the answer names languages (not programming languages, a different question).
_LANGUAGES_Q = re.compile(r"\b(which|what)\s+(?:\w+\s+){0,2}languages\b(?<!programming languages)", re.IGNORECASE)
_LANGUAGES = re.compile(
    r"\b(English|French|German|Spanish|Italian|Portuguese|Japanese|Chinese|Korean|Dutch|Arabic|Russian|Hindi)\b"
)
# "Which specific models…", when the question names none: the answer must name models. A plain "which models"
# is often answered by a family ("the o-series models"), so only an explicit ask for the specific ones counts.
_MODELS_Q = re.compile(r"\b(which|what)\s+(?:specific|exact|particular)\s+(?:[\w-]+\s+){0,2}models\b", re.I)
# "Which regions…": the answer names regions, as "which specific models" names models.
_REGIONS_Q = re.compile(r"\b(which|what)\s+(?:azure\s+)?regions?\b", re.IGNORECASE)

# Model names and other identifiers a user asks about by name: "gpt-4o", "o3-mini", "dall-e-3".
# A family's name takes the suffixes of its versions and sizes ("codex-mini", "davinci-002", "o3-pro").
_MODEL = re.compile(
    r"\b((?:gpt-?[\w.]+|o\d|dall-?e|whisper|sora|codex|text-embedding|tts|davinci|babbage)(?:-[\w.]*\w)*)\b",
    re.IGNORECASE,
)

# Azure regions by display name; passages also write them compactly ("japaneast").
_REGIONS = """
East US 2|East US|West US 3|West US 2|West US|Central US|North Central US|South Central US|West Central US|
Canada Central|Canada East|Brazil South|Brazil Southeast|Mexico Central|North Europe|West Europe|France Central|
France South|Germany West Central|Germany North|Italy North|Norway East|Norway West|Poland Central|Spain Central|
Sweden Central|Sweden South|Switzerland North|Switzerland West|UK South|UK West|UAE North|UAE Central|
Qatar Central|Israel Central|South Africa North|South Africa West|Australia East|Australia Southeast|
Australia Central|Central India|South India|West India|Japan East|Japan West|Korea Central|Korea South|East Asia|
Southeast Asia|Indonesia Central|New Zealand North|Malaysia West|Taiwan North|Austria East|Belgium Central|
Denmark East|Chile Central
"""
REGIONS = tuple(r.strip() for r in _REGIONS.replace("\n", "").split("|") if r.strip())
_REGION_IN_QUESTION = re.compile(
    r"\b(" + "|".join(re.escape(r).replace(r"\ ", r"\s*") for r in REGIONS) + r")\b(?!\s*\d)", re.IGNORECASE
)


# Data zones (the geographies deployment types keep data in), named as a question names them.
_ZONE_IN_QUESTION = re.compile(
    r"\b(EU|European Union|Europe|US|USA|United States)\b(?!\s+(?:East|West|Central|North|South))"
)
_ZONES = {
    "EU": re.compile(r"\bEU\b|European Union"),
    "US": re.compile(r"\bUS\b(?!\s*\d)|United States"),
}


def read_question(question: str) -> Ask:
    """The shape of answer a question expects and the specific things it asks for."""
    return Ask(question, question_shape(question), tuple(_wants(question)), language_of(question))


@dataclass(frozen=True)
class Query:
    """What retrieval is given for a question."""

    text: str  # the question, with regions also in compact form and former names also by current name
    required: tuple[re.Pattern[str], ...]  # what a passage must hold to answer it (a region, a model, a name)
    subject: str = ""  # the services it is about: those it names, else both (what the knowledge base is about)


def search_query(question: str, settings: Settings) -> Query:
    """The retrieval query for a question.

    Region tables write "japaneast"; current pages use the current name of a renamed product. What
    the question asks for by name is required: retrieval brings in the passage that holds it.
    """
    renames = renamed_in(question, settings)
    compact = [re.sub(r"\s+", "", m.group(1)).lower() for m in _REGION_IN_QUESTION.finditer(question)]
    text = " ".join([question, *dict.fromkeys(compact), *dict.fromkeys(current for _, current in renames)])
    required = [w.pattern for w in _wants(question) if w.kind in ("region", "name")]
    if not required:
        required = [re.compile(re.escape(current), re.IGNORECASE) for _, current in renames[:1]]
    named = list(dict.fromkeys(m.lower() for m in _SERVICES.findall(question)))
    return Query(text, tuple(required), " ".join(named) or SUBJECT)


def region_words(question: str) -> set[str]:
    """The words of the region names in a question ("Japan", "East")."""
    return {w for m in _REGION_IN_QUESTION.finditer(question) for w in m.group(1).split()}


def question_shape(question: str) -> Shape:
    """yes_no, compare, number, howto, list or open (first match, in that order of precedence)."""
    q = question.strip()
    both_services = {m.lower() for m in _SERVICES.findall(q)} >= {"openai", "azure openai"}
    if _COMPARE.search(q) and (both_services or re.search(r"\b(or|vs\.?|versus|between)\b", q, re.I)):
        return "compare"
    asked = asked_clause(q)
    if _YES_NO.match(asked) and not re.search(r",?\s+or\s+(does|is|do|are|can|will)\b", asked, re.I):
        return "yes_no"
    if _HOWTO.match(asked):
        return "howto"
    if _NUMBER.search(q):
        return "number"
    if _LIST.search(q.lower()):
        return "list"
    if both_services and re.search(r"\b(what|how)\b", q, re.I):
        return "compare"
    return "open"


# What a message says before it asks: sentences of background ("We moved to provisioned throughput."), and a
# condition ahead of the question itself ("If we move the subscription, will the keys keep working?").
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_CONDITION_AHEAD = re.compile(
    rf"^(?:if|when|whenever|once|after|before|since|because|unless|in case)\b.*?,\s*(?={_AUXILIARY})", re.IGNORECASE
)
# Who asks, ahead of the question ("Our CISO wants to know: will our notes be stored?", "Quick question: does …"):
# the question starts after the colon. Only after a word of asking: "Encryption at Rest: does OpenAI have it?" needs
# what is before its colon.
_FRAMING = re.compile(
    r"^[^:?]{0,80}\b(?:know|ask|asks|asked|asking|wonder|wonders|wondering|question|questions|curious)\s*:\s+"
    rf"(?={_AUXILIARY}|(?:what|which|how|who|when|where|why)\b)",
    re.IGNORECASE,
)


def asked_clause(question: str) -> str:
    """The clause that asks: the message's first question sentence (its text when it has none), without a
    condition ahead of it. "We moved to PTU. If we scale up, do the tiers still apply?" → "do the tiers still
    apply?"."""
    asked = _asking_sentence(question)
    return _CONDITION_AHEAD.sub("", asked[len(who_asks(question)) :], count=1)


def who_asks(question: str) -> str:
    """The words ahead of the question that say who asks it ("Our CISO wants to know: "), else ""."""
    framing = _FRAMING.match(_asking_sentence(question))
    return framing.group() if framing else ""


def _asking_sentence(question: str) -> str:
    """The message's first question sentence (its text when it has none)."""
    sentences = [s for s in _SENTENCE_END.split(question.strip()) if s]
    return next((s for s in sentences if s.endswith("?")), question.strip())


_TWO_THINGS = re.compile(r"\bbetween\b.+\band\b|\S\s+(?:vs\.?|versus)\s+\S", re.IGNORECASE)


def compares_other_things(question: str) -> bool:
    """A comparison of two things other than the services ("Global Standard vs Data Zone Standard", "the
    difference between the OpenAI User and Contributor roles"): a side-by-side OpenAI | Azure OpenAI table
    does not fit it. A comparison that names no service and no two things ("the two platforms") is theirs."""
    return not _SERVICES.search(_ROLE_NAMES.sub(" ", question)) and _TWO_THINGS.search(question) is not None


# "between A and B", "A vs B" / "A versus B", "A or B: which …" / "A or B?" opening the question, or "which …,
# A or B?" closing it; a name is at most five words and ends before punctuation or a clause ("for batch jobs").
_NAME = r"(?:the\s+)?(?P<{}>[\w.-]+(?:\s+[\w.-]+){{0,4}}?)"
_COMPARED = (
    re.compile(
        rf"\bbetween\s+{_NAME.format('a')}\s+and\s+{_NAME.format('b')}\s*(?:[?.,:;]|$|\s(?:for|in|on|when)\b)", re.I
    ),
    re.compile(
        rf"^{_NAME.format('a')}\s+(?:vs\.?|versus|or)\s+{_NAME.format('b')}\s*(?:[?:,]|$|\s(?:for|in|on|when)\b)", re.I
    ),
    re.compile(rf",\s*{_NAME.format('a')}\s+or\s+{_NAME.format('b')}\s*\?$", re.I),
    re.compile(r"\b(?P<a>[\w.-]+(?:\s+[\w.-]+)?)\s+(?:vs\.?|versus)\s+(?P<b>[\w.-]+(?:\s+[\w.-]+)?)", re.I),
)


def compared_things(question: str) -> tuple[re.Pattern[str], re.Pattern[str]] | None:
    """What finds each of the two things a question compares ("Global Batch" and "Data Zone Batch") named in a
    text, word for word; None when it names no two things, or one name holds the other ("OpenAI" and "Azure
    OpenAI": the services, which a side-by-side table compares)."""
    for pattern in _COMPARED:
        if match := pattern.search(question.strip()):
            a, b = match.group("a").lower(), match.group("b").lower()
            if set(a.split()) <= set(b.split()) or set(b.split()) <= set(a.split()):
                return None
            return _name_pattern(a), _name_pattern(b)
    return None


def _name_pattern(name: str) -> re.Pattern[str]:
    # "Data Zone" is also written "DataZone" or "data-zone"; "roles" matches "role".
    words = r"[\s-]?".join(re.escape(w.removesuffix("s")) + "s?" for w in name.split())
    return re.compile(rf"(?<![\w-]){words}(?![\w-])", re.IGNORECASE)


# Role names hold "OpenAI" without naming the service ("Cognitive Services OpenAI User").
_ROLE_NAMES = re.compile(r"\bServices OpenAI\b", re.IGNORECASE)


def _wants(question: str) -> list[Want]:
    wants: list[Want] = []
    if _PRICE_Q.search(question):
        relative = _RELATIVE_PRICE_Q.search(question) or _COMPARE.search(question)
        wants.append(Want("a price", "price", _PRICE if relative else re.compile(_MONEY, re.IGNORECASE)))
    if _SLA_Q.search(question):
        wants.append(Want("an SLA figure", "sla", _SLA))
    if _DATE_Q.search(question):
        wants.append(Want("a date", "date", _DATE))
    elif _DURATION_Q.search(question) and not _RATE_Q.search(question):
        wants.append(Want("a duration or interval", "duration", _DURATION))
    if _SIZE_Q.search(question):
        wants.append(Want("a size", "size", _SIZE))
    rate = _rate_asked(question) if re.search(r"\b(how many|what|which)\b", question, re.IGNORECASE) else None
    if rate:
        what, per = rate
        short = _RATE_ABBREVIATION.get((what, per), "")
        unit = rf"{what[:-1]}s?\s*(?:per|/|a|each)\s*{per[:3]}\w*" + (rf"|\b{short}\b" if short else "")
        pattern = re.compile(rf"\d[\d,.]*\s*[kKmM]?\s*(?:{unit})|(?:{unit})[^.;]{{0,40}}?\d", re.IGNORECASE)
        wants.append(Want(f"the number of {what} per {per}", "rate", pattern))
    counted = _counted(question) if not wants else None
    if counted:
        noun = counted.split()[-1]
        stem = re.escape(noun.rstrip("s"))
        if re.fullmatch(r"[A-Z]{2,}s?", noun):  # or the words an acronym stands for ("provisioned throughput unit")
            stem = f"(?:{stem}|{_initials(noun.rstrip('s'))})"
        figure = rf"(?:\d|\b{_NUMBER_WORDS}\b)"
        pattern = re.compile(rf"\b{stem}\w*\b[^.]*?{figure}|{figure}[^.]*?\b{stem}", re.IGNORECASE)
        wants.append(Want(f"the number of {counted}", "count", pattern))
    if _LANGUAGES_Q.search(question):
        wants.append(Want("the languages", "languages", _LANGUAGES))
    if _MODELS_Q.search(question) and not _MODEL.search(question):
        wants.append(Want("the names of the models", "models", _MODEL))
    # "How can I find out which regions …" asks for the way to find them, not for the regions.
    if _REGIONS_Q.search(question) and question_shape(question) != "howto":
        wants.append(Want("the regions", "regions", _REGION_IN_QUESTION))
    for match in _REGION_IN_QUESTION.finditer(question):
        # Written with or without spaces ("swedencentral", as the region tables write it): the name's own spelling.
        compact = re.sub(r"\s+", "", match.group(1)).lower()
        canonical = next(r for r in REGIONS if r.replace(" ", "").lower() == compact)
        wants.append(Want(f"the region {canonical}", "region", region_pattern(canonical)))
    for match in _ZONE_IN_QUESTION.finditer(_REGION_IN_QUESTION.sub(" ", question)):
        zone = "EU" if match.group(0).lower().startswith("e") else "US"
        wants.append(Want(f"the {zone} data zone", "region", _ZONES[zone]))
    for match in _MODEL.finditer(question):
        name = match.group(1)
        # "gpt4.1" is how some write "gpt-4.1": a hyphen where letters meet digits is optional.
        spelled = re.sub(r"(?<=[A-Za-z])(?=\d)", "-?", re.escape(name))
        # Not a longer version's name: "gpt-5" is not "gpt-5.2-codex".
        wants.append(Want(name, "name", re.compile(rf"(?<![\w-]){spelled}(?![\w-]|\.\w)", re.IGNORECASE)))
    unique: dict[str, Want] = {}
    for want in wants:
        unique.setdefault(want.label.lower(), want)
    return list(unique.values())


# The words that ask for a value rather than name what it is about: "how many", "what is the maximum",
# "tokens per second", "when will". Not "price" or "SLA": a statement that there is none is on the topic.
_ASKING_FOR_A_VALUE = (
    _RATE_Q,
    _RATE_SHORT_Q,
    re.compile(r"^when (will|did|does|do|is|was|are|were|can|could|should|has|have)\b|\bwhat year\b|\bdate\b", re.I),
    re.compile(rf"\bhow (many|much|long|often)( {_TIME_UNITS})?\b|\b(number|amount) of\b", re.I),
    re.compile(r"\b(limit|maximum|max|minimum|quota|percentage)\b", re.I),
)


def topic_of(question: str) -> str:
    """The question without the words that ask for a value ("How many tokens per second does one PTU deliver
    for gpt-4o?" is about "one PTU … gpt-4o"): when the value is missing, what the knowledge base says on the
    topic is about the rest. Those words would otherwise pick sentences with any such value for anything."""
    for pattern in _ASKING_FOR_A_VALUE:
        question = pattern.sub(" ", question)
    return re.sub(r"\s+", " ", question).strip()


def _initials(acronym: str) -> str:
    """A pattern for words that begin with an acronym's letters, in order ("PTU": "provisioned throughput u")."""
    return r"[\w-]*\s+".join(re.escape(letter) for letter in acronym.lower())


def _counted(question: str) -> str | None:
    """What a "how many / number of" question counts ("private endpoints"), up to the first function word;
    None when it counts a unit (days, tokens, dollars) or nothing."""
    match = _COUNT_Q.search(question)
    if not match:
        return None
    words: list[str] = []
    for word in match.group(1).split():
        if word.lower() in STOPWORDS or word.lower() in _COUNT_ENDS:
            break
        words.append(word)
        if word.lower().endswith("s"):  # the plural noun counted ends the phrase: "regions (offer …)"
            break
    if not words or words[-1].lower().rstrip("s") in _UNIT_WORDS:
        return None
    return " ".join(words)


def _rate_asked(question: str) -> tuple[str, str] | None:
    """("tokens", "minute") for "tokens per minute", "tokens-per-minute" or "TPM"; None without a rate."""
    rate = _RATE_Q.search(question)
    if rate:
        return rate.group(1).lower(), rate.group(2).lower()
    short = _RATE_SHORT_Q.search(question)
    return next((pair for pair, name in _RATE_ABBREVIATION.items() if short and name == short.group(1)), None)


def region_pattern(region: str) -> re.Pattern[str]:
    """A region by display name or compact name: "Japan East", "japaneast", "japan-east"."""
    words = [re.escape(w) for w in region.split()]
    return re.compile(r"(?<![\w-])" + r"[\s_-]?".join(words) + r"(?![\w-]|\s*\d)", re.IGNORECASE)


@lru_cache(maxsize=1)
def _identifier() -> LanguageIdentifier:
    return LanguageIdentifier.from_modelpath(Path(langid.MODEL_DIR) / langid.MODEL_FILE, norm_probs=True)


def load_language_model() -> None:
    """Load the language identifier now (an LZMA-packed model, about half a second) rather than in the
    first question that needs it."""
    _identifier()


# A confident call of another language, in a text with almost no English function words ("does",
# "the", "which"): short, name-heavy English questions ("PTU price West Europe") are not mistaken.
LANGUAGE_CONFIDENCE = 0.5
ENGLISH_WORD_SHARE = 0.2
MIN_OTHER_SCRIPT_LETTERS = 4


def language_of(question: str) -> str:
    """The question's language code; "en" unless the text is clearly in another language.

    Product names are removed first: they are English whatever the language around them.
    """
    text = _SERVICES.sub(" ", _MODEL.sub(" ", question))
    words = re.findall(r"[^\W\d_]{2,}", text.lower())
    # Letters of other scripts (kana, Han, Cyrillic, ...) are no English, and Japanese or Chinese
    # write a whole question as one or two "words": the word tests below are for Latin script only.
    other_script = sum(ch.isalpha() and not unicodedata.name(ch, "LATIN").startswith("LATIN") for ch in text)
    if other_script < MIN_OTHER_SCRIPT_LETTERS and (
        len(words) < 3 or sum(w in STOPWORDS for w in words) / len(words) >= ENGLISH_WORD_SHARE
    ):
        return "en"
    language, confidence = _identifier().classify(text)
    return language if language != "en" and confidence >= LANGUAGE_CONFIDENCE else "en"


_LANGUAGE_NAMES = {
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
    "pl": "Polish",
    "sv": "Swedish",
    "da": "Danish",
    "no": "Norwegian",
    "fi": "Finnish",
    "cs": "Czech",
    "ru": "Russian",
    "uk": "Ukrainian",
    "tr": "Turkish",
    "ja": "Japanese",
    "zh": "Chinese",
    "ko": "Korean",
    "ar": "Arabic",
    "he": "Hebrew",
    "hi": "Hindi",
    "el": "Greek",
    "hu": "Hungarian",
    "ro": "Romanian",
}


def language_name(code: str) -> str:
    """The English name of a language code ("de" → "German"); the code itself when unknown."""
    return _LANGUAGE_NAMES.get(code, code)


def renamed_in(question: str, settings: Settings) -> list[tuple[str, str]]:
    """(former, current) for each former name the question uses (sources.toml [aliases]).

    The two services compared keep their names: "Azure OpenAI" is what the user chooses between,
    whatever a page calls the models it sells.
    """
    found: list[tuple[str, str]] = []
    for current, formers in _aliases(settings.sources_file):
        for former in re.split(r",\s*|\s*\(|\)", formers):
            former = former.strip()
            if not former or former.lower() in ("openai", "azure openai") or current.lower() in question.lower():
                continue
            if re.search(rf"(?<![\w-]){re.escape(former)}(?![\w-])", question, re.IGNORECASE):
                found.append((former, current))
    return found


@lru_cache(maxsize=4)
def _aliases(sources_file: Path | None) -> tuple[tuple[str, str], ...]:
    if sources_file is None or not sources_file.is_file():
        return ()
    try:
        return load_source_list(sources_file).aliases
    except SourcesError:
        return ()  # the index build reports a broken sources.toml; answers go on without renames
