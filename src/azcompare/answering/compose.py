"""Compose the extractive answer from chosen evidence, shaped by what was asked.

The first sentence answers the question: a yes/no question starts with the verdict its best
statement decides, a comparison with a side-by-side table of the points, a number question with
the statement holding the value. Newer sources speak first: a statement of an older source that a
newer statement on the same point follows is labelled with its date ("The 2024 article said: …"),
and a statement only an old source makes says how old it is. When the question asks for something
the knowledge base does not hold (a price, an SLA figure, a region), the answer says so first and
then shows what it does say, with the page to look at.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from azcompare.answering.citations import Citer, Evidence, body, render
from azcompare.answering.condense import asks_about_openai_only, asks_about_openai_too
from azcompare.answering.decides import decides, holds
from azcompare.answering.points import point_of
from azcompare.answering.question import Ask, asked_clause
from azcompare.links import now_generally_available
from azcompare.text import NEGATION, match_key, terms
from azcompare.types import Chunk, Citation

# A newer statement leads an older one on the same point only when at least this relevant (share of its score).
AS_RELEVANT = 0.8
# A comparison table shows at most this many points.
TABLE_ROWS = 5

_ROW_VALUE = re.compile(r"(?P<service>(?<!Azure )OpenAI|Azure OpenAI)\s*(?::\s*)?(?P<value>yes|no)\b", re.IGNORECASE)
_CONDITION = re.compile(
    r"\b(unless|except|however|only (if|when|in|for|with)|depend(s|ing)? on|not all|some (regions|models)|"
    r"certain (regions|models)|if you (opt|apply|request|explicitly)|varies|"
    r"(for|to access|in|with) some (\w+ ){0,2}(models?|features?|regions?|customers?))\b",
    re.IGNORECASE,
)
# "Can I use it without an Azure subscription?" is answered No by a statement that a subscription is needed.
_WITHOUT = re.compile(
    r"\bwithout\s+(?:an?\s+|the\s+|any\s+|my\s+|our\s+|your\s+)?(?P<what>[\w-]+(?:\s+[\w-]+){0,2})", re.I
)
# "Can other customers use my fine-tuned model?" is answered No by "… available exclusively for your use".
_OTHERS = re.compile(
    r"\b((other|another) (customers?|users?|tenants?|people|organi[sz]ations?|compan(y|ies))|anyone else"
    r"|third[- ]part)",
    re.IGNORECASE,
)
_YOURS_ONLY = re.compile(r"\b(exclusively|only)\b[^.;]{0,40}\b(you|your|yours)\b", re.IGNORECASE)
# "Is Azure OpenAI only available to enterprise customers?" is answered No by "all Azure customers are eligible".
_ONLY = re.compile(r"\b(only|exclusively|solely)\b", re.IGNORECASE)
_ALL_OF_A_GROUP = re.compile(
    r"\b(all|any|every)\s+(\w+\s+){0,2}(customers?|users?|regions?|subscriptions?|tenants?|organi[sz]ations?)\b", re.I
)
# "Does every feature support it?", "Do all regions offer it?": a question about each one of a group.
_EVERY = re.compile(r"\b(every|each|all)\s+(?!of\s+(it|this|that)\b)\w+", re.IGNORECASE)
_SOME = re.compile(r"\b(some|certain|a few|selected)\b", re.IGNORECASE)
_ALL = re.compile(r"\b(all|every|each|any|always)\b", re.IGNORECASE)
# "Can we keep the vectors we stored?" is answered No by "you need to generate new embeddings".
_KEEP = re.compile(r"\b(keep|reuse|re-use|retain|continue (to use|using)|still use)\b", re.IGNORECASE)
_NEW = re.compile(r"\b(new|again|re-?create|regenerate|redeploy)\b", re.IGNORECASE)
_NEEDED = re.compile(r"\b(needs?|needed|requires?|required|must|ha(?:ve|s) to)\b", re.IGNORECASE)
_DIGIT = re.compile(r"\d")
_DEICTIC = re.compile(
    r"\bthis (role|feature|type|option|model|deployment type|deployment|setting|tier|offer|SKU)\b", re.I
)
_ROW_MARK = re.compile(r"\s(yes|no)(?=;|$)")
_VERSION = re.compile(r"\b\d{4}(?:-\d{2}-\d{2})?\b")
# A condition ahead of a statement's point, after a row's label ("Reader: If you don't wish to use this role,
# the subscription Reader role provides equivalent access"): a negation in it belongs to the condition.
_CONDITION_AHEAD = re.compile(r"^(?:[^:.;]{1,80}:\s+)?(?:if|when|whenever|once|after|before)\b[^,;]*,\s*", re.I)
# A question about a loss ("do we lose access?", "will our calls fail?") is answered Yes by a statement of the
# loss or a negation ("access will be removed", "data will no longer be accessible"), No by one that it goes on.
_LOSS = re.compile(
    r"\b(lose|loses|losing|lost|fail|fails|failing|break|breaks|stops? working|removed|revoked|deleted|blocked|"
    r"rejected|inaccessible|no longer)\b",
    re.IGNORECASE,
)
# "No prompts are stored" negates as "not" does ("no longer" is a NEGATION already); an aside in brackets
# ("… (certain preview features may not support it)") is not the statement's point.
_NO_SOMETHING = re.compile(r"\bno\s+(?!longer\b|matter\b)[a-z]", re.IGNORECASE)
# "… in different tenants?" against "… in the same tenant" / "… in different subscriptions".
_DIFFERENT = re.compile(r"\b(?:different|separate)\s+(?P<what>(?:[\w-]+\s+){0,2}[\w-]+)", re.IGNORECASE)
_SAME_OR_DIFFERENT = re.compile(r"\b(same|different|separate)\s+(?P<what>(?:[\w-]+\s+){0,2}[\w-]+)", re.IGNORECASE)
_CONTRAST = re.compile(r"[,;]\s*(?:however|but)\b,?\s*", re.IGNORECASE)
_QUALIFIES = re.compile(
    r"(?:not|only|except|unless|if|when|in|for|with|within|on|at|some|certain|as long as|provided)\b", re.IGNORECASE
)
_ASIDE = re.compile(r"\s*\([^()]*\)")
# "Not" inside a name in title case ("the Do Not Purge property") negates nothing.
_IN_A_NAME = re.compile(r"\b(?P<before>[A-Z]\w*)\s+(?:Not|No)\s+(?=[A-Z])")
# "Can I have more than 30 …?" is answered No by a limit of 30 ("Maximum …: 30", "up to 30").
_MORE_THAN = re.compile(
    r"\b(?:more|greater|larger|higher|bigger|longer)\s+than\s+(\d[\d,]*)|\b(?:over|above|exceed(?:s|ing)?|beyond)\s+(\d[\d,]*)",
    re.IGNORECASE,
)
_LIMIT = re.compile(r"\b(maximum|max|limits?|up to|at most|no more than)\b", re.IGNORECASE)
_FIGURE = re.compile(r"(?<![\w.-])\d[\d,]*")
# "… all models, except … audio models such as Whisper": what follows the exception.
_EXCEPT = re.compile(r"\b(?:except|excluding|other than|apart from)\b(?P<rest>[^.;]*)", re.IGNORECASE)
_NAME = re.compile(r"\b[A-Z][\w.-]*|\b[a-z]+-?\d[\w.-]*")
_PREVIEW = re.compile(r"\b(in|is a|as a) (\w+ )?(preview|beta)\b", re.IGNORECASE)
_GOES_ON = re.compile(r"\b(still|continues?|remains?|keeps?)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Composed:
    """The answer text with its citations, and the evidence it quotes in order."""

    text: str
    citations: list[Citation]
    evidence: list[Evidence]


def compose(
    ask: Ask,
    chosen: list[Evidence],
    newest: dt.date | None,
    span_days: int,
    renames: Sequence[tuple[str, str]] = (),
) -> Composed:
    """The answer to `ask` from the chosen evidence (best first).

    `renames` holds (former, current) names: the question used a former name, so the answer first
    says what it is called now. A support statement among `chosen` (Evidence.support) follows the lead.
    """
    ordered = _value_first(ask, [e for e in chosen if not e.support])
    keep_rows = asks_about_openai_too(ask.question)
    if not asks_about_openai_only(ask.question):
        ordered = current_first(ordered, span_days, keep_rows)
    ordered = _support_after_lead(ordered, chosen)
    statements = label_stale(ordered, newest, span_days, keep_rows)
    if statements:
        lead, first = statements[0]
        for former, current in renames:
            if current.lower() in first.sentence.text.lower():
                lead = f"{former} is now {current}: {_lower_first(lead)}"
        word = verdict(ask, first) if ask.shape == "yes_no" else None
        if word == "No" and _still_in_preview(ask, [e for _, e in statements], newest, span_days):
            word = "It depends"  # generally available in one way, in preview in another
        if word:
            lead = f"{word} — {_lower_first(lead) if lead.startswith(('The ', 'According')) else lead}"
        statements[0] = (lead, first)
    text, citations = render(statements)
    return Composed(text, citations, [e for _, e in statements])


def partial(
    ask: Ask, missing: list[str], chosen: list[Evidence], newest: dt.date | None, span_days: int, urls: Sequence[str]
) -> Composed:
    """Say what the knowledge base lacks of what was asked, then what it does say, then where to look
    (the first cited page with an address, else the best retrieved one: `urls`)."""
    lead = current_first([e for e in chosen if not e.support][:2], span_days)
    statements = label_stale(_support_after_lead(lead, chosen), newest, span_days)
    text, citations = render(statements)
    what = _join(missing)
    lines = [f"The knowledge base does not give {what}."]
    if statements:
        lines.append(f"What it says on the topic: {text}")
    where = [c.url for c in citations if c.url] + list(urls)
    if where:
        lines.append(f"For {what}, check the current page: {where[0]}")
    return Composed(" ".join(lines), citations, [e for _, e in statements])


def _support_after_lead(ordered: list[Evidence], chosen: list[Evidence]) -> list[Evidence]:
    """`ordered` (the statements that may lead, in answer order) with the support statements of `chosen` right
    after the lead: support backs the lead, so it never decides a verdict nor states the current fact first.
    It is added rather than put in place of a statement: the one it would push out may hold the answer."""
    return ordered[:1] + [e for e in chosen if e.support] + ordered[1:]


def verdict(ask: Ask, evidence: Evidence) -> str | None:
    """Yes, No or It depends, as the statement decides the question; None when it does not decide it.

    A feature-matrix row answers for the service the question names; any other statement says no
    when it negates, and "it depends" when it states a condition. A statement that does not speak to
    what is asked (see decides.py) gets no verdict: a verdict word would read as the service's answer.
    """
    text = evidence.sentence.text
    clause = asked_clause(ask.question)
    if _negates(clause):
        return None  # "Doesn't it …?", "Am I right that it doesn't …?": a Yes or a No would read either way
    values = {m.group("service").lower(): m.group("value").lower() for m in _ROW_VALUE.finditer(text)}
    if values:
        asked = _asked_service(ask.question)
        value = values.get(asked) or next(iter(values.values()))
        return "Yes" if value == "yes" else "No"
    if ask.lists_other_regions(text):
        return "No"  # the model's regions, and the one asked for is not among them
    marks = set(_ROW_MARK.findall(text)) if ":" in text else set()
    if marks:  # a row of a table of check marks (a region × model table): yes for some, no for others
        label = text[: text.rfind(":")]
        if not (any(w.found_in(label) for w in ask.wants) or decides(ask.question, label)):
            return None  # the row's label (its point, or the region asked for) is not what was asked
        marks = _asked_marks(ask, text[len(label) + 1 :]) or marks
        return "It depends" if len(marks) > 1 else ("Yes" if marks == {"yes"} else "No")
    if _KEEP.search(clause) and _NEEDED.search(text) and _NEW.search(text):
        return "No"  # something new is needed: what the asker has cannot be kept
    if _OTHERS.search(ask.question) and _YOURS_ONLY.search(text):
        return "No"  # kept for the asker alone: not for the others the question asks about
    if _ONLY.search(ask.question) and _ALL_OF_A_GROUP.search(text) and not _ONLY.search(text):
        return "No"  # not only them: all of the group, whatever exceptions the statement names
    if _beyond_the_limit(clause, text):  # the statement's limit is the figure the question would go beyond
        return "Yes" if _LOSS.search(clause) else "No"  # "… fail if it runs longer than 720 hours?": it does
    needed = _need_of_what_is_done_without(ask.question, text)
    if needed is not None:  # not needed "unless …": it depends on that
        return "No" if needed else ("It depends" if _CONDITION.search(text) else "Yes")
    point = _CONDITION_AHEAD.sub("", text, count=1)
    loss = _LOSS.search(clause) is not None
    # A loss is decided in its own words: stated, negated ("no longer readable") or denied ("still completes").
    said = _negates(point) or _LOSS.search(point) or _GOES_ON.search(point)
    if not decides(ask.question, text) and not (loss and said):
        return None
    text = _part_that_decides(ask.question, text)
    point = _CONDITION_AHEAD.sub("", text, count=1)
    if _EVERY.search(clause) and not _ALL.search(text):
        # asked about every one of them: a statement about some says no for all, others do not say yes for all
        return "No" if _SOME.search(text) and not _negates(text) else "It depends"
    if now_generally_available(clause, text) or now_generally_available(text, clause):
        return "No"  # asked whether it is in preview, it is generally available; or the other way round
    if same_or_different := _same_or_different(clause, text):
        return same_or_different
    if _excepts_what_is_asked(clause, text):
        return "Yes" if _negates(text[: _EXCEPT.search(text).start()]) else "No"  # what is asked is the exception
    if _only_another_figure(clause, text):
        return "No"  # only another figure ("only keys of size 2048") than the one asked about
    if _CONDITION.search(text):
        return "It depends"
    if loss:  # asked whether something is lost: a loss stated says yes
        if _negates(point) or _LOSS.search(point):
            return "Yes"
        if _GOES_ON.search(point):
            return "No"
    return "No" if _negates(point) else "Yes"


def _part_that_decides(question: str, text: str) -> str:
    """The statement up to a contrast ("…, however, …", "…; but …") when only that part decides the question:
    a condition or a negation after it is about another point ("All customers can set the thresholds, however,
    approval is required to turn the filters off" for "Can every customer set the thresholds?")."""
    contrast = _CONTRAST.search(text)
    if not contrast:
        return text
    before, after = text[: contrast.start()], text[contrast.end() :]
    if _QUALIFIES.match(after):
        return text  # "…, but only in some regions": it qualifies the part before, it is no other point
    return before if decides(question, before) and not decides(question, after) else text


def _negates(text: str) -> bool:
    """Whether the statement denies its point ("is not", "aren't", "no prompts are stored"), leaving out its
    asides in brackets."""
    point = _IN_A_NAME.sub(r"\g<before> ", _ASIDE.sub("", text))
    return bool(NEGATION.search(point) or _NO_SOMETHING.search(point))


def _figures(text: str) -> set[str]:
    """The figures a text states on their own ("30", "4096-bit", "5,000" as "5000"), not those inside a name
    ("gpt-4o", "o3")."""
    return {f.replace(",", "").rstrip(",") for f in _FIGURE.findall(text)}


def _beyond_the_limit(clause: str, text: str) -> bool:
    """Whether the question asks for more than a figure the statement gives as a limit ("Can I have more than
    30 resources?" / "Resources per region: Limit value: 30")."""
    asked = _MORE_THAN.search(clause)
    if not asked or not _LIMIT.search(text):
        return False
    return (asked.group(1) or asked.group(2)).replace(",", "") in _figures(text)


def _only_another_figure(clause: str, text: str) -> bool:
    """Whether the statement allows only figures other than the one the question names ("Can I use a 4096-bit
    key?" / "Only keys of size 2048 are supported")."""
    asked, stated = _figures(clause), _figures(text)
    return bool(_ONLY.search(text) and asked and stated and not asked & stated)


def _same_or_different(clause: str, text: str) -> str | None:
    """For a question about different things ("… in different tenants?"): No when the statement requires the same
    one ("must be in the same Microsoft Entra tenant"), Yes when it allows different ones ("can be in different
    subscriptions"); None when it says neither of what is asked."""
    asked = _DIFFERENT.search(clause)
    if not asked:
        return None
    wanted = {match_key(t) for t in terms(asked.group("what"))}
    for said in _SAME_OR_DIFFERENT.finditer(text):
        if holds({match_key(t) for t in terms(said.group("what"))}, wanted):
            return "No" if said.group(1).lower() == "same" else "Yes"
    return None


def _excepts_what_is_asked(clause: str, text: str) -> bool:
    """Whether the statement names what the question asks about only as its exception ("applies to all models,
    except … audio models such as Whisper" for "Does it apply to Whisper?"): a name (a capitalised word, a word
    with a figure) of the exception that the question holds and the statement does not name before it. Common
    words of the exception ("prompts") are no sign: the question may ask about them in general."""
    exception = _EXCEPT.search(text)
    if not exception:
        return False
    before = {match_key(t) for t in terms(text[: exception.start()])}
    names = {match_key(t) for name in _NAME.findall(exception.group("rest")) for t in terms(name)} - before
    return bool(names & {match_key(t) for t in terms(clause)})


def _asked_marks(ask: Ask, cells: str) -> set[str]:
    """The marks of a row's cells whose column the question names ("gpt-4o, 2024-05-13 yes" of a region's row,
    for "Is gpt-4o offered in Sweden Central?"); none when it names no column: the other models' cells do not
    make the answer "it depends"."""
    marked = [(column, mark) for column, mark in (c.strip().rpartition(" ")[::2] for c in cells.split(";"))]
    asked = [(column, mark) for column, mark in marked if any(w.found_in(column) for w in ask.wants)]
    asked = asked or _named_columns(ask.question, marked)
    # A version the question names ("gpt-35-turbo 0125") narrows the model's columns to that version's.
    versions = _VERSION.findall(ask.question)
    versioned = [(column, mark) for column, mark in asked if any(v in column for v in versions)]
    return {mark.lower() for _, mark in versioned or asked}


def _named_columns(question: str, marked: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The cells of the column the question names in full ("Can the Cognitive Services OpenAI User role …" names
    that role's column, not "Cognitive Services User"): the longest column label all of whose words it holds."""
    have = {match_key(t) for t in terms(question)}
    named = [(c, m) for c, m in marked if (words := _keys(c)) and all(holds(have, {w}) for w in words)]
    longest = max((len(_keys(c)) for c, _ in named), default=0)
    return [(c, m) for c, m in named if len(_keys(c)) == longest]


def _keys(text: str) -> set[str]:
    return {match_key(t) for t in terms(text)}


def _still_in_preview(ask: Ask, quoted: list[Evidence], newest: dt.date | None, span_days: int) -> bool:
    """Whether the lead says generally available what the question calls preview while another current statement
    quoted with it says it is in preview ("DALL-E 3 is generally available" / "… with the client SDKs is in
    preview"). An older source's "preview" is the stale claim the change replaced (label_stale shows it)."""
    clause = asked_clause(ask.question)
    if not quoted or not now_generally_available(clause, quoted[0].sentence.text):
        return False
    current = [e.sentence.text for e in quoted[1:] if not _is_old(e.hit.chunk, newest, span_days)]
    return any(_PREVIEW.search(t) and not NEGATION.search(t) and decides(ask.question, t) for t in current)


def _asked_service(question: str) -> str:
    """The service a question asks a matrix row about: Azure OpenAI when it names it ("azur openai", "azrue
    openai": misspelt too), or names Azure but not OpenAI; OpenAI when it names OpenAI without Azure before it
    ("OpenAI's API over Azure Private Link" asks about OpenAI)."""
    if re.search(r"\ba(zu?re?|zrue)(['’]s)?\s+open\s?ai\b", question, re.IGNORECASE):
        return "azure openai"
    if re.search(r"\bopen\s?ai\b", question, re.IGNORECASE):
        return "openai"
    return "azure openai" if re.search(r"\ba(zu?re?|zrue)\b", question, re.IGNORECASE) else "openai"


def _need_of_what_is_done_without(question: str, text: str) -> bool | None:
    """For a question to do without something ("… without an Azure subscription?"), whether the statement
    says that thing is needed (True: "you need to create a resource in your Azure subscription") or not
    needed (False: "a subscription is not required"); None when the statement does not say."""
    without = _WITHOUT.search(question)
    if not without or not _NEEDED.search(text):
        return None
    thing = without.group("what").split()[-1]
    if not holds(_keys(text), _keys(thing)):  # in any form of the word ("registering" / "registration")
        return None
    return not NEGATION.search(text)


def current_first(evidence: list[Evidence], span_days: int, keep_rows: bool = False) -> list[Evidence]:
    """Relevance order, except that a statement of an older source comes after the newer statement
    on the same point (when one was chosen), so the current fact is read first.

    With `keep_rows` (a question about OpenAI too), a feature-matrix row that gives both services' values
    keeps its place: a newer page speaks for Azure OpenAI only and does not replace the row's OpenAI half.
    """
    ordered: list[Evidence] = []
    for e in evidence:
        if e in ordered:
            continue
        if keep_rows and speaks_for_both(e.sentence.text):
            ordered.append(e)
            continue
        newer = [n for n in evidence if n not in ordered and n is not e and _supersedes(n, e, span_days)]
        ordered.extend(newer[:1])
        ordered.append(e)
    return ordered


def label_stale(
    evidence: list[Evidence], newest: dt.date | None, span_days: int, keep_rows: bool = False
) -> list[tuple[str, Evidence]]:
    """Each statement with its lead-in: the source and its age for an old one, and, beside an old one,
    the title and date of each current source the first time it speaks.

    An old statement after a newer one on the same point: "The 2024 article (2024-06-01) said: …";
    an old statement no newer one speaks to (or a row kept in its place, see current_first):
    "According to the 2024 article (2024-06-01): …".
    """
    statements: list[tuple[str, Evidence]] = []
    # Beside an older source, a current one says its date too, so the change reads as one.
    dated = any(_is_old(e.hit.chunk, newest, span_days) for e in evidence)
    named: set[str] = set()
    for i, e in enumerate(evidence):
        chunk = e.hit.chunk
        if not _is_old(chunk, newest, span_days):
            lead = _subject(e)
            if dated and chunk.date and chunk.doc_id not in named:
                named.add(chunk.doc_id)
                lead = f"“{chunk.title}” ({chunk.date.isoformat()}): {lead}"
            statements.append((lead, e))
            continue
        name = source_name(chunk)
        kept = keep_rows and speaks_for_both(e.sentence.text)
        superseded = not kept and any(_supersedes(n, e, span_days) for n in evidence[:i])
        statements.append((f"{name[0].upper()}{name[1:]} said: " if superseded else f"According to {name}: ", e))
    return statements


def speaks_for_both(text: str) -> bool:
    """Whether the statement is a feature-matrix row with each service's value ("…: OpenAI no; Azure OpenAI yes")."""
    return {m.group("service").lower() for m in _ROW_VALUE.finditer(text)} == {"openai", "azure openai"}


def _subject(e: Evidence) -> str:
    """ "Cognitive Services OpenAI User: " for a sentence that says "this role" under that heading: the
    quote keeps the subject its section gives it."""
    heading = e.hit.chunk.heading_path[-1] if e.hit.chunk.heading_path else ""
    if heading and _DEICTIC.search(e.sentence.text) and heading.lower() not in e.sentence.text.lower():
        return f"{heading}: "
    return ""


def source_name(chunk: Chunk) -> str:
    """How an answer names an older source, with its age: "the 2024 article (2024-06-01)"."""
    date = chunk.date.isoformat() if chunk.date else "undated"
    if "(article)" in chunk.title:
        return f"the {chunk.date.year} article ({date})" if chunk.date else "the article (undated)"
    return f"“{chunk.title}” ({date})"


def comparison(evidence: list[Evidence], span_days: int) -> Composed | None:
    """A lead sentence and a side-by-side table (point | OpenAI | Azure OpenAI | source and date).

    Feature-matrix rows give both columns; another statement fills the column of the service it
    names. None when fewer than two points would fill the table.
    """
    rows: list[tuple[str, str, str, Evidence]] = []
    for e in current_first(evidence, span_days):
        point, openai, azure = _columns(e)
        if point:
            rows.append((point, openai, azure, e))
    if len(rows) < 2:
        return None
    rows = rows[:TABLE_ROWS]
    citer = Citer()
    numbers = [citer.number(e) for *_, e in rows]
    summary, used = _lead_for_table(rows)
    # The summary speaks of feature-matrix rows: it cites those rows, not whichever statement fills row 1.
    marks = "".join(f"[{n}]" for n, row in zip(numbers, rows, strict=True) if row[0] in used) or f"[{numbers[0]}]"
    lead = f"{summary} {marks}." if summary else _lead_for_sides(rows, numbers)
    lines = [lead, "", "| Point | OpenAI | Azure OpenAI | Source |", "| --- | --- | --- | --- |"]
    for (point, openai, azure, e), n in zip(rows, numbers, strict=True):
        chunk = e.hit.chunk
        date = chunk.date.isoformat() if chunk.date else "undated"
        source = f"[{n}] {_cell(_short_title(chunk))}, {date}"
        lines.append(f"| {_cell(point)} | {_cell(openai)} | {_cell(azure)} | {source} |")
    return Composed("\n".join(lines), citer.citations, [e for *_, e in rows])


def _columns(e: Evidence) -> tuple[str, str, str]:
    """(point, OpenAI, Azure OpenAI) of one statement; an empty point when it fits no row."""
    text = body(e)
    values = {m.group("service").lower(): m.group("value").lower() for m in _ROW_VALUE.finditer(text)}
    if values and ":" in text:
        point = text.split(":", 1)[0].strip()
        return point, values.get("openai", "not stated"), values.get("azure openai", "not stated")
    names_azure = re.search(r"\bAzure OpenAI\b|\bAzure\b", text) is not None
    # A role name ("Cognitive Services OpenAI Contributor") holds "OpenAI" without speaking for OpenAI.
    names_openai = re.search(r"(?<!Azure )(?<!Services )\bOpenAI\b(?! Service)", text) is not None
    heading = e.hit.chunk.heading_path[-1] if e.hit.chunk.heading_path else e.hit.chunk.title
    # What the statement is about, not the name of the section it stands in ("Summary").
    point = point_of(text, heading) or heading
    text = _after_label(text, point)
    if names_azure and not names_openai:
        return point, "not stated", text
    if names_openai and not names_azure:
        return point, text, "not stated"
    return "", "", ""


def _after_label(text: str, point: str) -> str:
    """The statement without the label its Point already shows, nor the service its column names:
    "GPT-4o-mini (preview); …" of "Fine-tuning: Azure OpenAI: GPT-4o-mini (preview); …"."""
    if not text.lower().startswith(point.lower() + ":"):
        return text
    rest = text[len(point) + 1 :].strip()
    rest = re.sub(r"^(Azure OpenAI|OpenAI):\s*", "", rest)
    return rest or text


def _lead_for_table(rows: list[tuple[str, str, str, Evidence]]) -> tuple[str, set[str]]:
    """One sentence over the matrix points (which only Azure OpenAI has, which both have), and the points
    it names; ("", set()) when no row gives both services' values."""
    azure_only = [p for p, o, a, _ in rows if a == "yes" and o == "no"]
    openai_only = [p for p, o, a, _ in rows if o == "yes" and a == "no"]
    both = [p for p, o, a, _ in rows if o == a == "yes"]
    parts = []
    if azure_only:
        parts.append(f"Azure OpenAI has {_join(_short_points(azure_only), 'and')}, which OpenAI lacks")
    if openai_only:
        parts.append(f"OpenAI has {_join(_short_points(openai_only), 'and')}, which Azure OpenAI lacks")
    if both:
        parts.append(f"both have {_join(_short_points(both), 'and')}")
    if not parts:
        return "", set()
    sentence = "; ".join(parts)
    return sentence[0].upper() + sentence[1:], {*azure_only, *openai_only, *both}


def _lead_for_sides(rows: list[tuple[str, str, str, Evidence]], numbers: list[int]) -> str:
    """One sentence that gives each service's side: the most relevant statement about OpenAI and the most
    relevant about Azure OpenAI, in table order; the first row's statement when only one service speaks."""
    sides = []
    for column in (1, 2):
        filled = [i for i, row in enumerate(rows) if row[column] != "not stated" and row[3 - column] == "not stated"]
        if filled:
            sides.append(max(filled, key=lambda i: rows[i][3].score))
    if len(sides) < 2:
        return f"{body(rows[0][3])} [{numbers[0]}]."
    return "; ".join(f"{body(rows[i][3])} [{numbers[i]}]" for i in sorted(sides)) + "."


def _short_points(points: Sequence[str]) -> list[str]:
    return [f"“{p.split(', ')[-1]}”" for p in points]


def _short_title(chunk: Chunk) -> str:
    return "The comparison article" if "(article)" in chunk.title else chunk.title


def _cell(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ")


def _value_first(ask: Ask, chosen: list[Evidence]) -> list[Evidence]:
    """For a number question, the best statement that holds a number leads."""
    if ask.shape != "number":
        return chosen
    with_value = [e for e in chosen if _DIGIT.search(e.sentence.text)]
    return with_value[:1] + [e for e in chosen if e not in with_value[:1]]


def _supersedes(newer: Evidence, older: Evidence, span_days: int) -> bool:
    """Whether `newer` is a later source's statement that should be read before `older`: one linked to
    it at build time, or any as relevant to the question (a newer passage about something else must
    not push the answer back). Also requiring similar embeddings (cosine ≥ 0.65) kept an older
    statement first where the two differ most: on dev, current-first 0.455 → 0.545 without it, lead
    accuracy 0.541 → 0.525."""
    a, b = newer.hit.chunk, older.hit.chunk
    if a.doc_id == b.doc_id or not (a.date and b.date) or (a.date - b.date).days < span_days:
        return False
    return newer.hit.via_link == b.id or newer.score >= AS_RELEVANT * older.score


def _is_old(chunk: Chunk, newest: dt.date | None, span_days: int) -> bool:
    return bool(chunk.date and newest and (newest - chunk.date).days >= span_days)


def _join(items: Sequence[str], conjunction: str = "or") -> str:
    items = list(dict.fromkeys(items))
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {conjunction} " + items[-1]


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
