"""Hybrid retrieval over the real index: dense (Chroma) + BM25 + sentence vectors, fused."""

from __future__ import annotations

import re

import pytest

from azcompare.retrieval import NEAR_COPY_SIMILARITY, NEAR_COPY_WORDS, KnowledgeBase, open_knowledge_base
from azcompare.text import match_key, terms
from azcompare.types import Chunk


@pytest.fixture(scope="module")
def kb(kb_settings):
    return open_knowledge_base(kb_settings)


def test_private_endpoints_finds_the_matrix_row(kb, kb_settings):
    result = kb.search("Does OpenAI support private endpoints?", top_k=5, candidates=30, rrf_k=60)
    rows = [h.chunk for h in result.hits if h.chunk.kind == "row"]
    assert any(c.text == "Network Security, Private Endpoints: OpenAI no; Azure OpenAI yes" for c in rows)
    ranked = [h.rank for h in result.all_hits if not h.via_link]  # the keyword match the fusion left out among them
    assert ranked == list(range(1, len(result.hits) + len(result.keyword) + 1)) and len(result.hits) == 5
    assert all(a.score >= b.score for a, b in zip(result.hits, result.hits[1:], strict=False))


def test_forms_of_a_word_the_stemmer_cuts_apart_are_one_word(kb):
    # "compliance" and "complies" stem apart ("complianc" / "compli"); "use" and "user" are different words.
    compliance, complies = (match_key(next(iter(terms(w)))) for w in ("compliance", "complies"))
    assert compliance != complies
    assert complies in kb.forms(compliance) and compliance in kb.forms(complies)
    use, user = (match_key(next(iter(terms(w)))) for w in ("use", "user"))
    assert user not in kb.forms(use) and use not in kb.forms(user)


def test_keyword_ranking_finds_exact_identifiers(kb):
    # A rare identifier is a keyword match before it is a semantic one.
    ranked = kb.keyword_search("Cognitive Services Usages Reader", 5)
    assert ranked and "Usages Reader" in kb.chunks[ranked[0][0]].embed_text  # its text or its heading


def test_dense_search_uses_chroma_similarities(kb):
    ranked = kb.dense_search(kb.embed_query("customer-managed keys in Azure Key Vault"), 5)
    assert len(ranked) == 5
    assert all(-1.0 <= s <= 1.0 for _, s in ranked)
    assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)
    assert kb.chunks[ranked[0][0]].doc_id == "azure-openai-encrypt-data-at-rest"


def test_fusion_brings_in_hits_from_every_ranking(kb):
    result = kb.search("Data Sovereignty (region)", top_k=8, candidates=30, rrf_k=60)
    assert any(h.bm25_score is not None for h in result.hits)
    assert any(h.dense_score is not None for h in result.hits)
    assert result.timings.keys() >= {"embed_ms", "vector_search_ms", "keyword_search_ms", "fusion_ms"}


def test_top_k_and_per_document_cap(kb):
    capped = kb.search(
        "How do I encrypt data at rest with my own keys?", top_k=6, candidates=30, rrf_k=60, max_per_doc=1
    )
    docs = [h.source for h in capped.hits]
    assert len(docs) == 6 and len(set(docs)) == 6
    uncapped = kb.search("How do I encrypt data at rest with my own keys?", top_k=3, candidates=30, rrf_k=60)
    assert len(uncapped.hits) == 3


NETWORKING = (
    "# {name} networking\n\n## Private networking\n\n"
    "{name} supports private endpoints for inbound traffic from a virtual network. "
    "Public network access can be turned off once a private endpoint is in place. "
    "Outbound traffic to other services can go through managed private links as well. "
    "DNS zones resolve the endpoint's name to its private address inside the network.\n\n"
    "## Data residency\n\n{name}: data at rest stays in the chosen geography; "
    "backups, logs and fine-tuned weights stay in its paired region.\n\n"
    "## {name} roles\n\nA {name} reader can view keys of {name} resources but cannot create deployments.\n"
)


@pytest.fixture
def near_copies(small_corpus):
    """Two documents that say the same thing about two products."""
    from azcompare import build_index

    corpus = small_corpus.corpus_dirs[0]
    (corpus / "contoso.md").write_text(NETWORKING.format(name="Contoso Cloud"), encoding="utf-8")
    (corpus / "azure.md").write_text(NETWORKING.format(name="Azure OpenAI"), encoding="utf-8")
    build_index(small_corpus)
    return open_knowledge_base(small_corpus)


def _first_copy(kb, question: str, marker: str) -> dict[str, str]:
    """Per subject asked about, the document of the first hit whose passage holds `marker`."""
    return {
        subject: next(h.source for h in kb.search(question, 8, 30, 60, subject=subject).hits if marker in h.chunk.text)
        for subject in ("Azure OpenAI", "Contoso Cloud")
    }


def test_among_near_copies_the_one_naming_the_subject_ranks_first(near_copies):
    kb = near_copies
    question = "Which service supports private endpoints for inbound traffic?"
    first = {
        subject: next(h.source for h in kb.search(question, 5, 30, 60, subject=subject).hits if h.source != "alpha")
        for subject in ("Azure OpenAI", "Contoso Cloud")
    }
    # The two passages embed alike; the question's subject, not their fused order, decides which leads.
    assert first == {"Azure OpenAI": "azure", "Contoso Cloud": "contoso"}


def test_short_passages_under_the_same_heading_with_the_same_words_are_near_copies_too(near_copies):
    kb = near_copies
    question = "Where does data at rest stay?"
    residency = {h.source: h.chunk for h in kb.search(question, 8, 30, 60).hits if "geography" in h.chunk.text}
    vectors = [kb._passage_vector(kb._by_id[residency[doc].id]) for doc in ("azure", "contoso")]
    assert float(vectors[0] @ vectors[1]) < NEAR_COPY_SIMILARITY  # the renamed product moves the vector
    assert _first_copy(kb, question, "geography") == {"Azure OpenAI": "azure", "Contoso Cloud": "contoso"}


def test_passages_that_differ_only_in_their_own_documents_names_are_near_copies(near_copies):
    # Templated pages for two products: the product's name is in the heading and twice in a short
    # passage, so neither the vectors nor the words match closely, until each document's own title
    # words are set aside.
    kb = near_copies
    question = "Who can view keys but cannot create deployments?"
    roles = {h.source: h.chunk for h in kb.search(question, 8, 30, 60).hits if "view keys" in h.chunk.text}
    ids = [kb._by_id[roles[doc].id] for doc in ("azure", "contoso")]
    assert float(kb._passage_vector(ids[0]) @ kb._passage_vector(ids[1])) < NEAR_COPY_SIMILARITY
    words = [kb._keys(i, heading=False) for i in ids]
    assert len(words[0] & words[1]) < NEAR_COPY_WORDS * len(words[0] | words[1])
    assert _first_copy(kb, question, "view keys") == {"Azure OpenAI": "azure", "Contoso Cloud": "contoso"}


def test_a_near_copy_from_a_document_not_about_the_subject_makes_room_for_other_passages(near_copies):
    kb = near_copies
    question = "Where does data at rest stay?"

    def order(subject: str) -> list[tuple[str, bool]]:
        hits = kb.search(question, 8, 30, 60, subject=subject).hits
        return [(h.source, "geography" in h.chunk.text) for h in hits]

    # Asked about Azure OpenAI, Contoso's copies (its document never names Azure OpenAI) come after every
    # other passage, the residency one among them; asked about Contoso Cloud, Azure OpenAI's copies do.
    for subject, on, off in (("Azure OpenAI", "azure", "contoso"), ("Contoso Cloud", "contoso", "azure")):
        ranked = order(subject)
        first_off = [source for source, _ in ranked].index(off)
        assert ranked[0] == (on, True) and (off, True) in ranked[first_off:], ranked
        assert {source for source, _ in ranked[first_off:]} == {off}, ranked


def test_a_links_only_section_naming_what_is_asked_for_does_not_stand_for_a_passage_about_it():
    """`required` names are held by a passage that says something: a "Help and support" list naming the
    product leaves the last place to the best keyword match that does hold it."""
    from types import SimpleNamespace

    chunks = [
        Chunk(id="a#0", doc_id="a", title="A", text="Roles for Cognitive Services users.", heading_path=("Roles",)),
        Chunk(id="b#5", doc_id="b", title="B", text="Ask about Foundry Tools.", heading_path=("Help and support",)),
        Chunk(id="c#0", doc_id="c", title="C", text="Foundry Tools provide a suite of data science tools."),
    ]
    required = [re.compile("Foundry Tools", re.IGNORECASE)]
    kb = SimpleNamespace(chunks=chunks)
    order = KnowledgeBase._with_required(kb, [0, 1], [(1, 4.0), (2, 3.0)], required, top_k=2)
    assert order == [0, 2]


def test_an_abbreviation_the_documents_define_is_searched_with_its_long_form_too():
    from types import SimpleNamespace

    chunks = [
        Chunk(id="a#0", doc_id="a", title="A", text="Buy provisioned throughput units (PTU) for steady load."),
        Chunk(id="a#1", doc_id="a", title="A", text="Limits are given in tokens per minute (TPM) per region."),
        Chunk(id="a#2", doc_id="a", title="A", text="Keys live in the vault (see below) with the key (KV)."),
    ]
    kb = SimpleNamespace(chunks=chunks)
    found = KnowledgeBase.abbreviations.func(kb)
    assert found == {"PTU": "provisioned throughput units", "TPM": "tokens per minute"}  # no "KV": initials differ
    kb.abbreviations = found
    expand = KnowledgeBase.spelled_out
    assert expand(kb, "How many PTUs per deployment?") == "How many PTUs per deployment? provisioned throughput units"
    assert expand(kb, "What is the tokens per minute (TPM) limit?") == "What is the tokens per minute (TPM) limit?"
    assert expand(kb, "Are TPMS sensors covered?") == "Are TPMS sensors covered?"  # another word, not "TPM"


def test_a_question_using_a_defined_abbreviation_finds_the_passage_that_spells_it_out(kb):
    # The quotas page writes "provisioned throughput units"; the question only "PTUs".
    hits = kb.search("How many PTUs can one deployment have?", top_k=8, candidates=30, rrf_k=60, weights=(1, 1, 2)).hits
    ranks = [h.rank for h in hits if "provisioned throughput units per deployment" in h.chunk.text]
    assert ranks and ranks[0] <= 2, ranks


def test_the_best_keyword_match_the_fusion_leaves_out_follows_the_fused_leader(kb):
    from azcompare.retrieval import KEYWORD_PLACE

    # The page's pointer to the retirement guide is a short line the embeddings rank low for this wording.
    question = "Exactly when is GPT-4o going to be retired?"
    result = kb.search(question, top_k=5, candidates=30, rrf_k=60, weights=(1, 1, 2))
    best = kb.chunks[kb.keyword_search(question, 5)[0][0]]
    assert len(result.hits) == 5 and best.id not in {h.chunk.id for h in result.hits}
    assert [h.chunk.id for h in result.keyword] == [best.id] and "model retirement" in best.text
    assert result.keyword[0].rank == KEYWORD_PLACE and result.all_hits[KEYWORD_PLACE - 1] is result.keyword[0]
    assert [h.rank for h in result.all_hits[:6]] == [1, 2, 3, 4, 5, 6]  # the fused hits keep their order around it
    assert result.all_hits[0] is result.hits[0]
    assert result.keyword[0].support and not any(h.support for h in result.hits)  # only the fused hits may lead


def test_the_keyword_leader_the_fusion_ranks_lower_moves_up_to_its_place(kb):
    from azcompare.retrieval import KEYWORD_PLACE

    # Its best keyword match is a hit, but the embedding rankings put two passages on the service's outages above it.
    question = "Does the filtering service block my call if it fails?"
    leader = kb.chunks[kb.keyword_search(question, 5)[0][0]]
    result = kb.search(question, top_k=5, candidates=30, rrf_k=60, weights=(1, 1, 2))
    assert result.hits[KEYWORD_PLACE - 1].chunk.id == leader.id and not result.keyword
    assert [h.rank for h in result.hits] == [1, 2, 3, 4, 5]
    assert all(a.score >= b.score for a, b in zip(result.hits, result.hits[1:], strict=False))  # places keep scores


def test_the_keyword_leader_is_moved_only_from_below_its_place():
    from azcompare.retrieval import _keyword_leader_up

    assert _keyword_leader_up([7, 8, 9, 4], [(4, 3.0), (8, 2.0)], set()) == [7, 4, 8, 9]
    assert _keyword_leader_up([7, 4, 9], [(4, 3.0)], set()) == [7, 4, 9]  # already in its place
    assert _keyword_leader_up([4, 7, 9], [(4, 3.0)], set()) == [4, 7, 9]  # the fused leader stays first
    assert _keyword_leader_up([7, 8, 9], [(4, 3.0)], set()) == [7, 8, 9]  # left out: _keyword_best brings it as support
    assert _keyword_leader_up([7, 8, 9, 4], [(4, 3.0)], {4}) == [7, 8, 9, 4]  # an off-subject copy stays behind
    assert _keyword_leader_up([7, 8], [], set()) == [7, 8]


def test_the_best_keyword_match_is_not_added_when_retrieved_or_only_a_stale_copy():
    from types import SimpleNamespace

    chunks = [
        Chunk(id="new#0", doc_id="new", title="New", text="Keys rotate every 90 days."),
        Chunk(id="old#0", doc_id="old", title="Old", text="Keys rotate every 30 days."),
        Chunk(id="other#0", doc_id="other", title="Other", text="Rotation of keys is manual."),
    ]
    link = SimpleNamespace(new_chunk_id="new#0")  # all that is read of a Link here
    kb = SimpleNamespace(chunks=chunks, _links={"old#0": [link]})
    best = KnowledgeBase._keyword_best
    assert best(kb, [0], [(2, 5.0)]) == [2]  # left out by the fusion: added
    assert best(kb, [2], [(2, 5.0)]) == []  # already a hit
    assert best(kb, [0], [(1, 5.0)]) == []  # an older copy of a hit
    assert best(kb, [2], [(1, 5.0)]) == [1]  # an older passage whose newer one is not retrieved
    assert best(kb, [0], []) == []


def test_a_messages_background_counts_at_a_fraction_of_its_question_in_the_keyword_ranking(kb):
    from azcompare.retrieval import BACKGROUND_WEIGHT

    question, background = "Cognitive Services Usages Reader", "customer-managed keys in Azure Key Vault"
    every = len(kb.chunks)  # every positive score, so that a sum is not cut by either ranking's top n
    alone, told = dict(kb.keyword_search(question, every)), dict(kb.keyword_search(background, every))
    both = kb.keyword_search(question, 50, background)
    assert both and "Usages Reader" in kb.chunks[both[0][0]].embed_text  # the question still decides the first
    for index, score in both[:10]:
        assert score == pytest.approx(alone.get(index, 0.0) + BACKGROUND_WEIGHT * told.get(index, 0.0), rel=1e-4)
    assert set(told) & {i for i, _ in both} - set(alone)  # passages only the background's words find come in


def test_a_question_that_points_back_is_searched_with_what_the_message_told_before_it(kb):
    question = "Is that possible, and what has to be in place first?"
    background = (
        "Our auditors want every file we upload for fine-tuning encrypted at rest with a key we hold in our own "
        "key vault, not one Microsoft manages."
    )
    alone = kb.search(question, top_k=5, candidates=30, rrf_k=60)
    told = kb.search(question, top_k=5, candidates=30, rrf_k=60, background=background)
    assert told.background == background
    assert abs(float(told.query_vector @ told.query_vector) - 1.0) < 1e-5  # still a unit vector for cosines
    assert told.hits[0].chunk.doc_id == "azure-openai-encrypt-data-at-rest"
    assert all(h.chunk.doc_id != "azure-openai-encrypt-data-at-rest" for h in alone.hits)


@pytest.mark.parametrize(
    "question",
    [
        "Which regions host the batch deployment types?",
        "How are fine-tuning files stored and who can read them?",
        "What rate limits apply to image generation models?",
        "Can a managed identity call the service without keys?",
        "What does the abuse monitoring system store?",
        "Which roles can create deployments?",
        "How do I restrict deployment types with policy?",
        "Where is data processed for Data Zone deployments?",
    ],
)
def test_the_dense_ranking_is_the_exact_nearest_with_ties_in_index_order(kb, question):
    """The same corpus gives the same ranking in every build of the index: Chroma's approximate search returns
    the exact nearest passages (EF_SEARCH), and passages at the same distance keep the index's order."""
    import numpy as np

    from azcompare.retrieval import TIE_DECIMALS

    embedding = kb.embed_query(question)
    stored = kb._collection.get(include=["embeddings"])
    vectors = np.asarray(stored["embeddings"], dtype=np.float32)
    similarity = vectors @ embedding / np.linalg.norm(vectors, axis=1)
    exact = sorted(
        ((kb._by_id[cid], float(s)) for cid, s in zip(stored["ids"], similarity, strict=True)),
        key=lambda hit: (-round(hit[1], TIE_DECIMALS), hit[0]),
    )
    assert [i for i, _ in kb.dense_search(embedding, 20)] == [i for i, _ in exact[:20]]
