"""Whether a statement decides a yes/no question: it speaks to what the question asks, not only to its topic.

A verdict word reads as the service's answer, so it needs a statement about the asked predicate. "Can we switch
content filtering off?" is not decided by "prompts are evaluated by content filtering": the statement holds the
topic (content filtering) but not the predicate (switch off). The predicate is the question's main verb when one
follows the auxiliary and a plain subject ("can we switch …", "do we have to show …", "is there a way to
stop …"), unless it is a light verb whose object carries the meaning ("does it support private endpoints?");
what follows the verb, beyond the service names, is its object (the whole clause when no verb is found, or when
the object is a pronoun). A statement decides when it holds the verb (a form of it or a synonym) and a word of
the object; a question about a release status ("in preview?") only when it states one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from azcompare.answering.question import asked_clause
from azcompare.text import match_key, same_word, terms, tokenize

# A subject other than a pronoun or a service is at most this many words before its (light) verb.
SUBJECT_WORDS = 4
# A release status: a question about one is decided only by a statement of one.
_STATUS = re.compile(r"\b(preview|beta|generally available|deprecated|retired|retirement)\b", re.IGNORECASE)
_DO_OR_MODAL = re.compile(r"^(?:do|does|did|can|could|will|would|should|may|might|must)\s+", re.IGNORECASE)
# A subject the verb follows directly: a pronoun or a service ("can we …", "does Azure OpenAI's API …").
_SUBJECT = re.compile(
    r"^(?:i|we|you|they|it|he|she|one|someone|anyone|people|users?|customers?|"
    r"(?:the\s+|our\s+|my\s+)?(?:azure\s+)?(?:openai|microsoft|foundry)(?:['’]s)?(?:\s+own)?"
    r"(?:\s+(?:api|service|studio|portal|playground|resource|deployment|model|endpoint))?)\s+",
    re.IGNORECASE,
)
# "is there a way to …", "is there an option for us to …": the verb after "to" is the predicate.
_WAY_TO = re.compile(
    r"^(?:is|are)\s+there\s+(?:an?\s+|any\s+)?(?:way|option|setting|means|method|mechanism)\s+(?:for\s+\w+\s+)?to\s+",
    re.IGNORECASE,
)
# Between the subject and the verb: adverbs and modal phrases ("still", "ever", "have to", "be able to"); an
# adverb ends in "ly", but "apply" and "supply" are verbs.
_BEFORE_VERB = re.compile(
    r"^(?:still|ever|also|even|really|actually|already|just|then|now|\w{2,}[^p]ly|"
    r"ha(?:ve|s) to|needs? to|be able to)\s+",
    re.IGNORECASE,
)
# A clause about what the message said before it ("… says X. Is that still true?", "Is this still the case?").
_REFERS_BACK = re.compile(
    r"^(?:is|are|was|were|does|do|did)\s+(?:that|this|it)\s+(?:still\s+)?(?:true|correct|right|"
    r"accurate|the case|what|how)\b",
    re.IGNORECASE,
)
_WITHOUT = re.compile(r"\bwithout\b.*", re.IGNORECASE)
# "Is/Are <subject> <participle or adjective> …?": the participle ("enforced", "stored") or the adjective in
# "-able"/"-ible" ("available") says what is asked of the subject; "is there …" asks whether something exists.
_COPULA = re.compile(r"^(?:is|are|was|were)\s+(?!there\b)", re.IGNORECASE)
_PARTICIPLE = re.compile(r"[a-z]{2,}(?:ed|able|ible)", re.IGNORECASE)
# A purpose or reason after the predicate ("… a private endpoint so traffic stays private?") is not what is asked.
_PURPOSE = re.compile(r",?\s+(?:so(?: that)?|because|in order to|since)\s.*", re.IGNORECASE)
# Verbs whose object says what is asked: "does it support X", "can we use X", "do we get X".
_LIGHT_VERBS = frozenset(
    "support supports use call access get give provide offer have has allow let enable work do make need require "
    "run be include come go bring".split()
)
# Words of a question that name no part of its object: the services, adverbs and the light verbs.
_NOT_OBJECT = frozenset(
    match_key(t)
    for t in tokenize(
        "openai azure microsoft foundry service still ever already completely fully entirely really "
        + " ".join(_LIGHT_VERBS)
    )
)
# Verbs a statement says in other words ("see" the quota / "view" quota allocations), as stems' match keys.
_SYNONYMS = tuple(
    frozenset(match_key(t) for t in tokenize(group))
    for group in (
        "see view read look review inspect",
        "switch turn disable deactivate opt",
        "stop block restrict prevent deny disallow",
        "apply register registration request",
        "fill submit complete",
        "share shared available expose send transfer disclose",
        "change modify configure adjust customize",
        "raise increase",
        "store retain save persist log keep",
        "pay bill charge",
    )
)


# Words ahead of a noun phrase, words that end one, and particles of a phrasal verb ("switch … off").
_BEFORE_PHRASE = frozenset(
    "for to of about with a an the my our your their its his her own any some more all every".split()
)
_ENDS_PHRASE = frozenset(
    "in on at to for from with without by than instead into via over across between under per as of and or so "
    "because if when that which while where whether".split()
)
_PARTICLES = frozenset("off on out up down away back".split())


def asked_verb(clause: str) -> str | None:
    """The main verb of a yes/no clause ("switch" of "Can we switch X off?"), None when it is a light verb or
    the clause has no plain subject before it (a copula question's predicate is its complement)."""
    verb, _ = _verb_and_object(clause)
    return None if verb is None or verb in _LIGHT_VERBS else verb


def light_verb(question: str) -> str | None:
    """The light verb a yes/no question asks with ("support" of "Does OpenAI support customer-managed keys?"),
    None when its verb is another or none is found: its object, not the verb, says what is asked."""
    verb, _ = _verb_and_object(asked_clause(question))
    return verb if verb in _LIGHT_VERBS else None


def _verb_and_object(clause: str) -> tuple[str | None, str]:
    """The clause's verb and what follows it (its object); (None, the clause) when no verb is found. After a
    subject other than a pronoun or a service ("does provisioned throughput have …") only a light verb is
    known for a verb: the words before it name the subject, not what is asked of it. A copula question's
    participle or adjective ("is Whisper available …", "are quotas enforced …") is its verb."""
    text = clause.strip()
    if copula := _COPULA.match(text):
        words = text[copula.end() :].split()
        found = next((i for i in range(1, min(len(words), SUBJECT_WORDS + 2)) if _PARTICIPLE.fullmatch(words[i])), None)
        if found is not None:
            verb = words[found].lower()
            return (_base(verb) if _base(verb) in _LIGHT_VERBS else verb), " ".join(words[found + 1 :])
        return None, text
    if way := _WAY_TO.match(text):
        rest = text[way.end() :]
    elif (aux := _DO_OR_MODAL.match(text)) and (subject := _SUBJECT.match(text[aux.end() :])):
        rest = text[aux.end() + subject.end() :]
    elif aux:
        words = text[aux.end() :].split()
        light = next((i for i, w in enumerate(words[: SUBJECT_WORDS + 1]) if w.lower() in _LIGHT_VERBS), None)
        return (None, text) if light is None else (words[light].lower(), " ".join(words[light + 1 :]))
    else:
        return None, text
    while before := _BEFORE_VERB.match(rest):
        rest = rest[before.end() :]
    word = re.match(r"[a-z]+(?:-[a-z]+)*", rest.lower())  # "re-encrypt" is one verb
    # After "do" or a modal a verb has its plain form: "Microsoft employees", "OpenAI models" go on naming the
    # subject ("access", "process" and "focus" are verbs).
    if not word or re.search(r"[^su]s$", word.group()):
        return None, text
    return word.group(), rest[word.end() :]


def _base(participle: str) -> str:
    """The plain form of a participle as a light verb is listed ("supported" -> "support", "required" ->
    "require"); the word itself when it is none."""
    forms = (participle[:-2], participle[:-1], participle[:-3] + "y") if participle.endswith("ed") else ()
    return next((f for f in forms if f in _LIGHT_VERBS), participle)


def _verb_forms(verb: str) -> set[str]:
    """The match keys a statement may hold the verb by: a participle's plain form too ("stored" / "store",
    "applied" / "applies")."""
    forms = {verb}
    if verb.endswith("ed"):
        forms |= {verb[:-1], verb[:-2], verb[:-3] + "y", verb[:-3] + "ies"}
    return {match_key(t) for f in forms for t in tokenize(f)}


def decides(question: str, statement: str) -> bool:
    """Whether the statement speaks to the question's asked predicate: its verb (when not a light one) and a
    word of its object (when it names one beyond the services). The asked clause holds the predicate, or the
    whole message when the clause only refers back to what the message said before it."""
    clause = asked_clause(question)
    if _REFERS_BACK.match(clause):
        clause = question
    have = {match_key(t) for t in terms(statement)}
    verb, object_text = _verb_and_object(clause)
    verb_keys = _verb_forms(verb) if verb and verb not in _LIGHT_VERBS else set()
    if verb_keys and not holds(have, _with_synonyms(verb_keys)):
        return False
    status = _STATUS.search(clause)
    if status and not _STATUS.search(statement):
        return False  # asked for a status ("in preview?"): only a statement of a status decides it
    # An object that is a pronoun ("does every feature support them?") leaves the subject as what is asked; the
    # status asked for is checked above, so it is not what the statement must be about ("Is X in preview?").
    status_keys = {match_key(t) for t in tokenize(status.group())} if status else set()
    asked = (_object_keys(object_text) - verb_keys or _object_keys(clause) - verb_keys) - status_keys
    # The object is what its head noun names ("customer-managed *keys*"): a statement holding only a modifier
    # ("customer support", "encryption at rest" for "own encryption keys") is about something else.
    head = _head(object_text) if verb else None
    return not asked or (holds(have, asked) and (head is None or holds(have, {head})))


def asked_head(question: str) -> str | None:
    """The head noun (match key) of what a yes/no question's verb asks about ("key" of "Can we bring our own
    encryption keys?"); None when no verb or no such noun is found."""
    verb, object_text = _verb_and_object(asked_clause(question))
    return _head(object_text) if verb else None


def _head(object_text: str) -> str | None:
    """The match key of the head noun of the object's first noun phrase: its last word before a preposition,
    conjunction or punctuation ("my own encryption keys to OpenAI" -> "key"), a particle left out ("content
    filtering off" -> "filter"); None when that word names a service or no phrase is found."""
    words = re.findall(r"[\w'’-]+|[,.;:?!]", object_text.lower())
    while words and words[0] in _BEFORE_PHRASE:
        words = words[1:]
    phrase: list[str] = []
    for word in words:
        if phrase and (word in _ENDS_PHRASE or not word[0].isalnum()):
            break
        phrase.append(word)
    while phrase and phrase[-1] in _PARTICLES:
        phrase.pop()
    keys = [match_key(t) for t in terms(phrase[-1])] if phrase else []
    return keys[-1] if keys and keys[-1] not in _NOT_OBJECT else None


def _object_keys(text: str) -> set[str]:
    """The match keys of what a clause asks about, beyond the services, adverbs and light verbs; what is done
    without ("… without an API key?") is left out, as a statement answers it with the alternative, and so is a
    purpose after the predicate."""
    return {match_key(t) for t in terms(_PURPOSE.sub("", _WITHOUT.sub("", text)))} - _NOT_OBJECT


def _with_synonyms(keys: set[str]) -> set[str]:
    return keys.union(*(group for group in _SYNONYMS if holds(group, keys)))


def holds(have: Iterable[str], wanted: Iterable[str]) -> bool:
    """Whether any wanted key is one of `have`, as a form of the same word ("compliance" / "complies")."""
    return any(same_word(h, w) for h in have for w in wanted)
