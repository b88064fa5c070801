"""How the extractive answer orders and labels newer and older statements (no index needed)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from azcompare.answering.citations import Evidence
from azcompare.answering.compose import comparison, compose
from azcompare.answering.question import read_question
from azcompare.text import Sentence
from azcompare.types import Chunk, Hit, Link

ARTICLE = dt.date(2024, 6, 1)
PAGE = dt.date(2025, 11, 26)
SPAN = 365


def _evidence(doc_id: str, title: str, date: dt.date, text: str, score: float, via_link: str = "") -> Evidence:
    chunk = Chunk(id=f"{doc_id}#0", doc_id=doc_id, title=title, text=text, date=date)
    hit = Hit(chunk=chunk, score=score, rank=1, via_link=via_link)
    return Evidence(hit, Sentence(text, ((0, len(text)),)), score, 0.5)


def _article(text: str, score: float) -> Evidence:
    return _evidence("article", "The differences (article)", ARTICLE, text, score)


def _page(text: str, score: float) -> Evidence:
    return _evidence("page", "Encryption of data at rest", PAGE, text, score)


def test_a_newer_statement_as_relevant_leads_the_older_one():
    old = _article("Azure OpenAI uses customer data for training.", 0.5)
    new = _page("Azure OpenAI does not use customer data to train models.", 0.45)
    composed = compose(read_question("Does Azure OpenAI train on our data?"), [old, new], PAGE, SPAN)
    assert [e.hit.chunk.doc_id for e in composed.evidence] == ["page", "article"]
    assert "The 2024 article (2024-06-01) said:" in composed.text


def test_a_question_about_openai_alone_keeps_what_the_older_source_says_about_openai_first():
    # The current pages are Microsoft's: they speak for Azure OpenAI, not for OpenAI.
    old = _article("OpenAI used training data for model improvements prior to March 2023.", 0.5)
    new = _page("The Fine-tunes API allows customers to fine-tune the OpenAI models on their training data.", 0.45)
    composed = compose(read_question("Did OpenAI ever use API data to improve its models?"), [old, new], PAGE, SPAN)
    assert [e.hit.chunk.doc_id for e in composed.evidence] == ["article", "page"]
    assert composed.text.startswith("Yes — according to the 2024 article (2024-06-01): OpenAI used")


@pytest.mark.parametrize(
    ("question", "first"),
    [
        ("Do both platforms support private endpoints?", "article"),  # the row speaks for both services
        ("Does Azure OpenAI support private endpoints, and OpenAI?", "article"),
        ("Does Azure OpenAI support private endpoints?", "page"),  # the current page speaks for Azure OpenAI
    ],
)
def test_a_matrix_row_keeps_its_place_when_the_question_is_about_openai_too(question, first):
    row = _article("Network Security, Private Endpoints: OpenAI no; Azure OpenAI yes", 0.5)
    new = _page("Azure OpenAI offers private networking, regional availability, and content filtering.", 0.48)
    composed = compose(read_question(question), [row, new], PAGE, SPAN)
    assert composed.evidence[0].hit.chunk.doc_id == first, composed.text
    if first == "article":  # no newer statement replaces it: the row says how old it is
        assert "according to the 2024 article (2024-06-01): network security" in composed.text.lower()


@pytest.mark.parametrize(
    ("question", "statement", "verdict"),
    [
        (
            "Can I use Azure OpenAI without an Azure subscription?",
            "To get started, you need to create an Azure OpenAI resource in your Azure subscription.",
            "No",
        ),
        (
            "Can I call Azure OpenAI without an API key?",
            "Azure OpenAI supports Microsoft Entra ID authentication.",
            "Yes",
        ),
        ("Can I use Azure OpenAI without a subscription?", "A subscription is not required for the playground.", "Yes"),
        (
            "Can other customers use my fine-tuned model?",
            "Your fine-tuned models are available exclusively for your use.",
            "No",
        ),
        (
            "Can I use my fine-tuned model in any region?",
            "Your fine-tuned models are available exclusively for your use.",
            "Yes",
        ),
        # A negation inside the condition ahead of the statement's point is not its answer.
        (
            "Can a colleague see our deployments with the plain Reader role?",
            "Deployment Viewer: If you don't want to grant this role, the Reader role lets a user see deployments.",
            "Yes",
        ),
        ("Do rate limits still apply to batch jobs?", "Rate limits don't apply to batch jobs.", "No"),
        # Asked whether something is lost: the loss stated says Yes, going on regardless says No.
        (
            "Our key vault holds the key. If it is deleted, do we lose the data encrypted with it?",
            "If the key vault is deleted, data encrypted with its keys can no longer be read.",
            "Yes",
        ),
        (
            "When the safety system times out, will our calls fail?",
            "When the safety system times out, the call still completes without a safety check.",
            "No",
        ),
        # About every one of a group: a statement about some of them does not say yes for all.
        (
            "Do all regions offer fine-tuning?",
            "Fine-tuning is offered in Sweden Central and North Central US.",
            "It depends",
        ),
        ("Do all regions offer fine-tuning?", "Fine-tuning is offered in every region.", "Yes"),
        # Keeping what one has, against a statement that something new is needed.
        ("After the migration, can we reuse our API keys?", "After the migration you need to create new keys.", "No"),
        # A misspelt "Azure" still asks for the Azure OpenAI value of a matrix row.
        (
            "does azur openai offer virtual networks?",
            "Network Security, Virtual Networks: OpenAI no; Azure OpenAI yes",
            "Yes",
        ),
        # A model's row of regions that lacks the region asked for.
        ("Is o9-max offered in Japan East?", "o9-max: Region: Norway East & Brazil South (Global Standard)", "No"),
        ("Is o9-max offered in Norway East?", "o9-max: Region: Norway East & Brazil South (Global Standard)", "Yes"),
        # A region's row of a region × model table: the cells of the model asked about decide, then of its version.
        ("Is o9-max available in Norway East?", "norwayeast: o9-max, 0101 yes; o9-max-mini, 0201 no", "Yes"),
        ("Is o9-max available in Norway East?", "norwayeast: o9-max, 0101 no; o9-max, 0601 yes", "It depends"),
        ("Can I use o9-max 0101 in norwayeast?", "norwayeast: o9-max, 0101 no; o9-max, 0601 yes", "No"),
        ("Is any model available in Norway East?", "norwayeast: o9-max, 0101 no; o9-nano, 0601 yes", "It depends"),
        # Negations with a typographic apostrophe, and contractions beyond don't/isn't.
        ("Does the playground keep our chats?", "The playground doesn’t keep chats after you close it.", "No"),
        ("Was the feature available at launch?", "The feature wasn't available at launch.", "No"),
        # A claim qualified by "however" holds only in part.
        (
            "Does our data stay in the region we choose?",
            "Stored data stays in the chosen geography; however, some requests may be processed in other regions.",
            "It depends",
        ),
    ],
)
def test_a_verdict_reads_what_the_question_asks_against_the_statement(question, statement, verdict):
    composed = compose(read_question(question), [_page(statement, 0.5)], PAGE, SPAN)
    assert composed.text.startswith(f"{verdict} — "), composed.text


def test_a_tables_summary_cites_the_matrix_rows_it_summarizes():
    page = _page("Azure OpenAI offers private networking and regional availability.", 0.6)
    rows = [
        _article("Network Security, Private Endpoints: OpenAI no; Azure OpenAI yes", 0.5),
        _article("Network Security, Virtual Networks: OpenAI no; Azure OpenAI yes", 0.5),
    ]
    composed = comparison([page, *rows], SPAN)
    lead = composed.text.splitlines()[0]
    assert lead.startswith("Azure OpenAI has “Private Endpoints” and “Virtual Networks”, which OpenAI lacks")
    assert lead.endswith(" [2][3]."), composed.text  # the rows, not the page that fills row 1
    assert [e.hit.chunk.doc_id for e in composed.evidence] == ["page", "article", "article"]


def test_a_tables_lead_gives_each_services_side_when_no_matrix_row_summarizes_them():
    rows = [
        _page("Azure OpenAI needs a resource in a region where the model is offered.", 0.5),
        _article("OpenAI answers billing questions by email within two working days.", 0.55),
        _article("Azure OpenAI customers open support tickets with an enterprise agreement.", 0.6),
    ]
    composed = comparison(rows, SPAN)
    lead = composed.text.splitlines()[0]
    assert lead == (
        "OpenAI answers billing questions by email within two working days [2]; Azure OpenAI customers open"
        " support tickets with an enterprise agreement [3]."
    ), composed.text
    # Only one service speaks: the first row leads, as before.
    one_side = comparison([rows[0], rows[2]], SPAN)
    assert one_side.text.splitlines()[0].startswith("Azure OpenAI needs a resource")


def test_a_role_named_after_openai_fills_the_azure_openai_column():
    rows = [
        _page("The Cognitive Services OpenAI Contributor role on Azure lets a user deploy fine-tuned models.", 0.6),
        _article("OpenAI lets organization owners invite members to a project.", 0.5),
    ]
    table = comparison(rows, SPAN).text.splitlines()
    role_row = next(line for line in table if "Contributor role" in line and line.startswith("|"))
    assert role_row.split("|")[2].strip() == "not stated"  # the OpenAI column


def test_copies_of_one_statement_scored_alike_put_the_newest_sources_copy_first():
    """The 2023 overview and its 2025 edition say the same: the current edition's copy is the one quoted."""
    from types import SimpleNamespace

    import numpy as np

    from azcompare.answering.extractive import score_sentences
    from azcompare.retrieval import SentenceUnit
    from azcompare.text import terms

    text = "Managed Identity: Azure OpenAI: Yes, via Microsoft Entra ID"
    vector = np.ones(4, np.float32) / 2
    old = Chunk(id="overview-2023#3", doc_id="overview-2023", title="Overview", text=text, date=dt.date(2023, 10, 16))
    new = Chunk(id="overview#3", doc_id="overview", title="Overview", text=text, date=dt.date(2025, 7, 31))
    kb = SimpleNamespace(
        idf=lambda term: 1.0,
        forms=lambda key: frozenset({key}),
        sentences=lambda chunk: [SentenceUnit(Sentence(text, ((0, len(text)),)), terms(text), vector)],
    )
    result = SimpleNamespace(
        all_hits=[Hit(chunk=old, score=0.07, rank=1), Hit(chunk=new, score=0.06, rank=2)], query_vector=vector
    )
    scored = score_sentences("Can we sign in with Entra ID?", result, kb)
    assert scored[0].score == scored[1].score
    assert [e.hit.chunk.doc_id for e in scored] == ["overview", "overview-2023"]


def test_a_note_scores_below_the_same_statement_in_the_text():
    """A note is an aside ("Note: A registration form is required for some models"): the text states the point."""
    from types import SimpleNamespace

    import numpy as np

    from azcompare.answering.extractive import ASIDE_FACTOR, score_sentences
    from azcompare.retrieval import SentenceUnit
    from azcompare.text import terms

    texts = [
        "Note: A registration form is required for some models.",
        "A registration form is required for some models.",
    ]
    vector = np.ones(4, np.float32) / 2
    chunk = Chunk(id="page#0", doc_id="page", title="Access", text=" ".join(texts), date=PAGE)
    units = [SentenceUnit(Sentence(t, ((0, len(t)),)), terms(t), vector) for t in texts]
    kb = SimpleNamespace(idf=lambda term: 1.0, forms=lambda key: frozenset({key}), sentences=lambda chunk: units)
    result = SimpleNamespace(all_hits=[Hit(chunk=chunk, score=0.1, rank=1)], query_vector=vector)
    scored = score_sentences("Is a registration form required?", result, kb)
    assert [e.sentence.text for e in scored] == texts[::-1]
    assert scored[1].score == pytest.approx(ASIDE_FACTOR * scored[0].score)


@pytest.mark.parametrize(
    ("second", "leans"),
    [
        ("It's the best choice for steady workloads.", True),
        ("They are billed hourly whether used or not.", True),
        ("Batch is the best choice for steady workloads.", False),  # names its own subject
    ],
)
def test_a_sentence_whose_subject_is_a_pronoun_covers_what_the_one_before_names(second, leans):
    """ "It's the best choice …" is about what the sentence before it names, and is quoted joined with it."""
    from types import SimpleNamespace

    import numpy as np

    from azcompare.answering.extractive import score_sentences, with_context
    from azcompare.retrieval import SentenceUnit
    from azcompare.text import terms

    first = "Reserved capacity gives dedicated throughput."
    text = f"{first} {second}"
    spans = [(0, len(first)), (len(first) + 1, len(text))]
    vector = np.ones(4, np.float32) / 2
    chunk = Chunk(id="page#0", doc_id="page", title="Deployments", text=text, date=PAGE)
    units = [SentenceUnit(Sentence(text[a:b], ((a, b),)), terms(text[a:b]), vector) for a, b in spans]
    kb = SimpleNamespace(idf=lambda term: 1.0, forms=lambda key: frozenset({key}), sentences=lambda chunk: units)
    result = SimpleNamespace(all_hits=[Hit(chunk=chunk, score=0.1, rank=1)], query_vector=vector)
    scored = {e.sentence.text: e for e in score_sentences("What gives dedicated throughput?", result, kb)}
    assert (scored[second].coverage == scored[first].coverage) is leans
    quoted = with_context([scored[second]], kb)[0].sentence.text
    assert quoted.startswith("Reserved capacity") is leans, quoted


def test_a_sentence_covers_a_question_term_in_another_form_of_the_word():
    """ "Which standards does it comply with?" is answered by "The API complies with SOC 2": the forms the knowledge
    base tells apart only by the stemmer's cut count as one word."""
    from types import SimpleNamespace

    import numpy as np

    from azcompare.answering.extractive import score_sentences
    from azcompare.retrieval import SentenceUnit
    from azcompare.text import match_key, terms

    text = "The API complies with SOC 2 Type 2."
    vector = np.ones(4, np.float32) / 2
    chunk = Chunk(id="page#0", doc_id="page", title="Security", text=text, date=PAGE)
    units = [SentenceUnit(Sentence(text, ((0, len(text)),)), terms(text), vector)]
    result = SimpleNamespace(all_hits=[Hit(chunk=chunk, score=0.1, rank=1)], query_vector=vector)
    question = "What compliance does the API have?"
    keys = {match_key(t) for t in terms(text)}

    def coverage(forms):
        kb = SimpleNamespace(idf=lambda term: 1.0, forms=forms, sentences=lambda chunk: units)
        return score_sentences(question, result, kb)[0].coverage

    one_form = coverage(lambda key: frozenset({key}))
    all_forms = coverage(lambda key: frozenset({key, *(k for k in keys if k[:6] == key[:6])}))
    assert all_forms > one_form


def test_a_newer_counterpart_that_repeats_a_chosen_statement_is_not_quoted_twice():
    """The current page holds the statement in its table row and in its section: one copy is enough."""
    from types import SimpleNamespace

    from azcompare.answering.extractive import with_counterparts
    from azcompare.settings import Settings
    from azcompare.types import Link

    row = "Managed Identity: Azure OpenAI: Yes, via Microsoft Entra ID"
    old = _article("Identity and Access Management, Azure AD: OpenAI no; Azure OpenAI yes", 0.7)
    chosen_copy = _evidence("overview", "Overview", PAGE, row, 0.52)
    other_copy = replace(
        chosen_copy, hit=replace(chosen_copy.hit, chunk=replace(chosen_copy.hit.chunk, id="overview#9"))
    )
    link = Link(
        old_chunk_id=old.hit.chunk.id,
        old_doc_id="article",
        old_title="The differences (article)",
        old_date=ARTICLE,
        old_sentence=old.sentence.text,
        new_chunk_id="overview#9",
        new_doc_id="overview",
        new_title="Overview",
        new_date=PAGE,
        new_sentences=(row,),
        kind="similar",
        score=0.8,
    )
    kb = SimpleNamespace(newer=lambda chunk_id: [link] if chunk_id == old.hit.chunk.id else [])
    chosen = [old, chosen_copy]
    out = with_counterparts(chosen, [old, chosen_copy, other_copy], kb, PAGE, Settings())
    assert [e.sentence.text for e in out] == [old.sentence.text, row]


def _units(passage: str) -> list:
    import numpy as np

    from azcompare.retrieval import SentenceUnit
    from azcompare.text import quotable_sentences, terms

    return [SentenceUnit(s, terms(s.text), np.zeros(4, np.float32)) for s in quotable_sentences(passage)]


def _from(passage: str, first_words: str, date: dt.date = PAGE) -> Evidence:
    chunk = Chunk(id="types#4", doc_id="types", title="Deployment types", text=passage, date=date)
    sentence = next(u.sentence for u in _units(passage) if u.sentence.text.startswith(first_words))
    return Evidence(Hit(chunk=chunk, score=1.0, rank=1), sentence, 1.0, 0.5)


@pytest.mark.parametrize(
    ("passage", "joins", "stands_alone", "already_quoted", "parts"),
    [
        # Quoted alone, "data at rest stays in the geography" would hide that inferencing data may leave it;
        # "Instead of …" does not qualify the sentence before it.
        (
            "Data stored at rest remains in the designated Azure geography. However, inferencing data may be "
            "processed in any Azure region for global deployment types. Pick a deployment type for each model you "
            "deploy. Instead of building custom solutions, use these services for most workloads.",
            "Data stored",
            "Pick",
            ("Data stored", "However"),
            [
                "Data stored at rest remains in the designated Azure geography.",
                "However, inferencing data may be processed in any Azure region for global deployment types.",
            ],
        ),
        # Quoted alone, "This data is stored in Azure Storage" has lost what it speaks of; "This article …"
        # names its page.
        (
            "Training data is uploaded by the customer with the Files API. This data is stored in Azure Storage, "
            "in the same region as the resource. This article explains how the data is encrypted.",
            "This data",
            "This article",
            ("Training", "This data"),
            [
                "Training data is uploaded by the customer with the Files API.",
                "This data is stored in Azure Storage, in the same region as the resource.",
            ],
        ),
    ],
)
def test_a_statement_is_quoted_with_the_neighbouring_sentence_it_cannot_do_without(
    passage, joins, stands_alone, already_quoted, parts
):
    from types import SimpleNamespace

    from azcompare.answering.extractive import with_context

    kb = SimpleNamespace(sentences=lambda chunk: _units(chunk.text))
    picked, alone = _from(passage, joins), _from(passage, stands_alone)
    joined, unchanged = with_context([picked, alone], kb)
    first, then = parts
    assert joined.sentence.text == f"{first.rstrip('.')}; {then[:1].lower()}{then[1:]}"
    assert [passage[a:b] for a, b in joined.sentence.spans] == parts
    assert unchanged == alone
    both = [_from(passage, words) for words in already_quoted]
    assert with_context(both, kb) == both  # each already quoted on its own


def test_a_statement_is_not_joined_to_a_fragment_before_it():
    """A list item's tail before "Such prompts …" would only move the fragment to the front."""
    from types import SimpleNamespace

    from azcompare.answering.extractive import with_context

    passage = (
        "either confirm or correct the classification based on predefined policies. Such prompts can be accessed "
        "for human review only by authorized Microsoft employees."
    )
    kb = SimpleNamespace(sentences=lambda chunk: _units(chunk.text))
    such = _from(passage, "Such")
    assert with_context([such], kb) == [such]


def test_a_long_list_quoted_in_parts_is_read_from_its_start():
    from azcompare.answering.extractive import _lists_score_as_one

    passage = "Here's what you should do:\n- Request a quota increase.\n- Upgrade to PTU.\n- Monitor your usage tier."
    chunk = Chunk(id="page#0", doc_id="page", title="Quotas", text=passage, date=PAGE)
    hit = Hit(chunk=chunk, score=1.0, rank=1)
    lead_in, first, second, third = (0, 26), (29, 54), (57, 72), (75, len(passage))

    def part(spans, score):
        text = " ".join(passage[i:j] for i, j in spans)
        return Evidence(hit, Sentence(text, spans), score, 0.5)

    start = part((lead_in, first, second), 0.4)
    rest = part((lead_in, third), 0.6)  # it repeats a word of the question ("usage tier")
    other = Evidence(hit, Sentence("Usage tiers apply to Standard.", ((0, 5),)), 0.5, 0.5)
    rescored = _lists_score_as_one([rest, other, start])
    by_text = {e.sentence.text: e.score for e in rescored}
    assert by_text[start.sentence.text] > by_text[rest.sentence.text] == 0.6  # the list's start leads
    assert by_text[other.sentence.text] == 0.5
    # A start that is not about the question on its own (far below the part that answers) keeps its score.
    unrelated_start = part((lead_in, first, second), 0.2)
    rescored = _lists_score_as_one([rest, other, unrelated_start])
    assert [e.score for e in rescored] == [0.6, 0.5, 0.2]


@pytest.mark.parametrize(
    ("passage", "quoted", "shown"),
    [
        (  # a clause a long sentence was split into reads as a sentence
            "All Azure customers are eligible, so customers are not required to submit a form.",
            "customers are not required to submit a form.",
            "Customers are not required to submit a form",
        ),
        ("Models:\n- gpt-4o supports vision.", "gpt-4o supports vision.", "gpt-4o supports vision"),  # a name
        ("Your data:\n- are NOT shared.", "are NOT shared.", "are NOT shared"),  # a fragment stays one
    ],
)
def test_a_split_clause_starts_with_a_capital(passage, quoted, shown):
    from azcompare.answering.citations import body, shown_sentence

    chunk = Chunk(id="page#0", doc_id="page", title="Page", text=passage, date=PAGE)
    start = passage.index(quoted)
    e = Evidence(Hit(chunk=chunk, score=1.0, rank=1), Sentence(quoted, ((start, start + len(quoted)),)), 1.0, 0.5)
    assert body(e) == shown
    assert shown_sentence(e).rstrip(".") == shown


def test_the_answerer_judges_a_split_clause_as_it_is_shown():
    from azcompare.answering.citations import shown_sentence
    from azcompare.answering.readable import is_readable

    passage = (
        "Every tenant can create resources in the supported regions, and all workloads that follow the usage"
        " policy are allowed without a review.\nAccess to the preview:\n- is granted per subscription on request."
    )
    chunk = Chunk(id="page#0", doc_id="page", title="Page", text=passage, date=PAGE)

    def quoted(text: str) -> Evidence:
        start = passage.index(text)
        return Evidence(Hit(chunk=chunk, score=1.0, rank=1), Sentence(text, ((start, start + len(text)),)), 1.0, 0.5)

    clause = quoted("all workloads that follow the usage policy are allowed without a review.")
    item = quoted("is granted per subscription on request.")
    assert is_readable(shown_sentence(clause)) and not is_readable(clause.sentence.text)
    assert not is_readable(shown_sentence(item))  # a list item without its lead-in stays a fragment


def test_a_former_name_brings_in_a_sentence_with_the_new_name_only_when_it_is_relevant():
    from azcompare.answering.extractive import _renamed_first

    best = _page("The Usages Reader role lets a user view quota across the subscription.", 0.6)
    weak = _page("Search services: Azure AI Search; Document Intelligence in Contoso Tools.", 0.2)
    apt = _page("Contoso Tools resources are billed per call.", 0.5)
    renames = [("Widget Services", "Contoso Tools")]
    assert _renamed_first([best, weak], renames)[0] is best  # too weak to be quoted at all: it does not lead
    assert _renamed_first([best, apt, weak], renames)[0].sentence.text == apt.sentence.text


def _under(heading: str, title: str, text: str) -> Evidence:
    chunk = Chunk(id="p#0", doc_id="p", title=title, text=text, date=PAGE, heading_path=(heading,) if heading else ())
    return Evidence(Hit(chunk=chunk, score=0.5, rank=1), Sentence(text, ((0, len(text)),)), 0.5, 0.5)


@pytest.mark.parametrize(
    ("heading", "title", "statement", "point"),
    [
        # A generic section name shares no content word: the point comes from the statement.
        (
            "Summary",
            "The differences (article)",
            "Azure OpenAI does not utilize customer data for enhancement purposes.",
            "Customer data",
        ),
        (
            "Key Differences and Feature Matrix",
            "The differences (article)",
            "In contrast, Azure OpenAI is available exclusively to Microsoft Enterprise customers.",
            "Available to Microsoft Enterprise customers",
        ),
        # A specific heading (the page title here) is kept, without the service's long name.
        (
            "",
            "Azure OpenAI in Microsoft Foundry Models encryption of data at rest",
            "Azure OpenAI automatically encrypts your data when it's persisted to the cloud.",
            "Encryption of data at rest",
        ),
        (
            "Securing Azure OpenAI inside a virtual network with private endpoints",
            "Networking",
            "Azure OpenAI uses a private endpoint to communicate using the virtual network.",
            "Virtual network with private endpoints",
        ),
        # The first item of a list is not the whole point.
        (
            "Comparing Azure OpenAI and OpenAI",
            "What is Azure OpenAI?",
            "Azure OpenAI offers private networking, regional availability, and responsible AI content filtering.",
            "Private networking, …",
        ),
        # The statement's own label says it best.
        (
            "Features overview",
            "What is Azure OpenAI?",
            "Fine-tuning: Azure OpenAI: GPT-4o-mini (preview); GPT-4 (preview)",
            "Fine-tuning",
        ),
        ("Models", "Model availability", "gpt-oss-120b: Region: All Azure OpenAI regions", "gpt-oss-120b"),
        # A word of a generic section name still counts in a statement ("key vault", "Specify a key").
        (
            "Prerequisites",
            "Customer-managed keys",
            "The Azure OpenAI resource and the key vault must be in the same region.",
            "Key vault",
        ),
        (
            "Specify a key",
            "Customer-managed keys",
            "After you enable it, you can specify a key for Azure OpenAI.",
            "Specify a key",
        ),
        # About OpenAI: its column, and its point.
        (
            "Summary",
            "The differences (article)",
            "OpenAI used training data for model improvements prior to March 2023.",
            "Training data",
        ),
    ],
)
def test_a_prose_rows_point_says_what_the_statement_is_about(heading, title, statement, point):
    rows = [
        _under(heading, title, statement),
        _article("Data Security, Data Privacy: OpenAI yes; Azure OpenAI yes", 0.4),
    ]
    composed = comparison(rows, SPAN)
    first = next(line for line in composed.text.splitlines() if line.startswith("| ") and "[1]" in line)
    assert first.split("|")[1].strip() == point, composed.text


def test_a_cell_leaves_out_the_label_its_point_shows_and_the_service_its_column_names():
    label = _under("Features overview", "What is Azure OpenAI?", "Fine-tuning: Azure OpenAI: GPT-4o-mini (preview)")
    plain = _under("Summary", "The differences (article)", "Azure OpenAI does not utilize customer data.")
    rows = [label, plain, _article("Data Security, Data Privacy: OpenAI yes; Azure OpenAI yes", 0.4)]
    lines = comparison(rows, SPAN).text.splitlines()
    assert "| Fine-tuning | not stated | GPT-4o-mini (preview) | [1]" in "\n".join(lines), lines
    assert "| Customer data | not stated | Azure OpenAI does not utilize customer data | [2]" in "\n".join(lines), lines


def _link_to(old: Evidence, new: Evidence) -> Link:
    return Link(
        old_chunk_id=old.hit.chunk.id,
        old_doc_id=old.hit.chunk.doc_id,
        old_title=old.hit.chunk.title,
        old_date=old.hit.chunk.date,
        old_sentence=old.sentence.text,
        new_chunk_id=new.hit.chunk.id,
        new_doc_id=new.hit.chunk.doc_id,
        new_title=new.hit.chunk.title,
        new_date=new.hit.chunk.date,
        new_sentences=(new.sentence.text,),
        kind="similar",
        score=0.75,
        turned=True,
    )


def _with_link(chosen: list[Evidence], old: Evidence, new: Evidence) -> list[str]:
    from types import SimpleNamespace

    from azcompare.answering.extractive import with_counterparts
    from azcompare.settings import Settings

    link = _link_to(old, new)
    kb = SimpleNamespace(newer=lambda chunk_id: [link] if chunk_id == old.hit.chunk.id else [])
    scored = sorted({id(e): e for e in [*chosen, new]}.values(), key=lambda e: -e.score)
    return [e.sentence.text for e in with_counterparts(chosen, scored, kb, PAGE, Settings())]


def test_a_newer_sentence_saying_what_changed_leads_before_the_stale_claim_the_question_is_about():
    """The stale claim is about as relevant as the best statement, and its link says what changed (preview ->
    generally available): the change leads, the stale claim right after it, even when the change ranked third."""
    best = _page("The speech playground works with any deployed speech model.", 0.5)
    stale = _article("The speech models, currently in preview, transcribe audio files.", 0.45)
    change = _page("The speech models are generally available in every region.", 0.35)
    assert _with_link([best, stale, change], stale, change) == [e.sentence.text for e in (change, stale, best)]


@pytest.mark.parametrize(
    ("stale_score", "new_text", "new_score"),
    [
        (0.3, "The speech models are generally available in every region.", 0.35),  # the stale claim is off point
        (0.45, "The speech models are generally available in every region.", 0.2),  # the change is off point
        (0.45, "The speech models do not transcribe video files.", 0.35),  # a bare negation says no change
    ],
)
def test_a_counterpart_leads_only_when_it_says_what_changed_on_the_point_asked(
    stale_score: float, new_text: str, new_score: float
):
    best = _page("The speech playground works with any deployed speech model.", 0.5)
    stale = _article("The speech models, currently in preview, transcribe audio files.", stale_score)
    new = _page(new_text, new_score)
    assert _with_link([best, stale, new], stale, new)[0] == best.sentence.text


def _support(evidence: Evidence) -> Evidence:
    """The same statement from a passage found by its keywords alone (retrieval's Hit.support)."""
    return replace(evidence, hit=replace(evidence.hit, support=True))


def test_a_support_statement_follows_the_lead_and_never_decides_the_verdict():
    lead = _page("Azure OpenAI keeps stored completions for 30 days.", 0.4)
    other = _page("Stored completions can be deleted at any time.", 0.35)
    third = _page("Stored completions are encrypted at rest.", 0.3)
    # Scored above the lead and negated: led with, it would turn the verdict to No.
    backing = _support(_page("Stored completions are not available to other customers.", 0.6))
    question = read_question("Does Azure OpenAI keep stored completions?")
    composed = compose(question, [backing, lead, other, third], PAGE, SPAN)
    assert composed.evidence == [lead, backing, other, third]  # added: the last statement may hold the answer
    assert composed.text.startswith("Yes — Azure OpenAI keeps stored completions for 30 days [1].")


def test_a_newer_support_statement_does_not_take_the_place_of_the_current_fact():
    old = _article("Azure OpenAI is available exclusively to enterprise customers.", 0.5)
    new = _page("All Azure customers are eligible to use Azure OpenAI.", 0.45)
    backing = _support(_page("Azure OpenAI is available to customers in every Azure region listed.", 0.5))
    question = read_question("Who can use Azure OpenAI?")
    composed = compose(question, [backing, old, new], PAGE, SPAN)
    assert composed.evidence == [new, backing, old]


def test_a_partial_answer_quotes_the_support_statement_after_what_it_says_first():
    from azcompare.answering.compose import partial

    lead = _page("Global Standard deployments use the global infrastructure of Azure.", 0.4)
    other = _page("Maximum standard deployments per resource: 32.", 0.3)
    backing = _support(_page("The developer tier doesn't include an SLA.", 0.45))
    question = read_question("What uptime does the SLA guarantee for Global Standard?")
    composed = partial(question, ["an SLA figure"], [backing, lead, other], PAGE, SPAN, [])
    assert composed.evidence == [lead, backing, other]
    assert composed.text.startswith("The knowledge base does not give an SLA figure. What it says on the topic: Global")


def test_a_support_statement_is_quoted_only_when_it_adds_a_question_term_and_holds_as_much_of_the_question():
    from types import SimpleNamespace

    from azcompare.answering.extractive import backing

    kb = SimpleNamespace(idf=lambda term: 1.0, forms=lambda key: frozenset({key}))
    question = "How many training jobs can run at once per resource?"
    lead = replace(_page("Fine-tuning is available for several models per resource.", 0.4), coverage=0.2)
    adds = _support(replace(_page("Running training jobs per resource: 3.", 0.3), coverage=0.5))
    repeats = _support(replace(_page("Models per resource vary.", 0.35), coverage=0.3))  # no term the lead lacks
    covers_less = _support(replace(_page("Training quotas differ.", 0.36), coverage=0.1))
    weak = _support(replace(_page("Queued training jobs per resource: 20.", 0.1), coverage=0.5))
    assert backing([lead], [repeats, covers_less, adds], question, kb, floor=0.24) == [adds]
    assert backing([lead], [repeats, covers_less], question, kb, floor=0.24) == []
    assert backing([lead], [weak], question, kb, floor=0.24) == []  # under the floor: not relevant enough
    assert backing([], [adds], question, kb, floor=0.0) == []


def test_a_word_only_the_messages_background_names_covers_a_fraction_of_a_question_word():
    """ "Which role do they need?" after "Our developers call deployed models with Entra ID.": a sentence naming
    "Entra ID" covers more than one that does not, and less than one naming what the question itself asks."""
    from types import SimpleNamespace

    from azcompare.answering.extractive import BACKGROUND_TERM_WEIGHT, term_weights
    from azcompare.text import match_key

    kb = SimpleNamespace(idf=lambda term: 2.0)
    weights = term_weights("Which role do they need?", "Our developers need a role for Entra sign-in.", kb)
    assert weights[match_key("role")] == 2.0  # in the question too: it counts fully
    assert weights[match_key("entra")] == pytest.approx(2.0 * BACKGROUND_TERM_WEIGHT)
    assert term_weights("Which role do they need?", "", kb).keys() == {match_key("role")}
