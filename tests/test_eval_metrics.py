"""Each metric on its own, on hand-made answers: per-question value and aggregate."""

from __future__ import annotations

import pytest

from azcompare.evaluation import metrics as m
from azcompare.evaluation.diagnosis import badness, failure_reasons
from azcompare.evaluation.runner import latency_stats, score_item, summarize
from azcompare.evaluation.statements import junk_reason, lead_text, split_statements, strip_markers
from evalkit import ARTICLE_DATE, PAGE_DATE, answer, cite, hit, item

ART, PAGE = "article", "page"


def test_hit_at_k_counts_only_the_first_k_passages():
    q = item(sources=[PAGE])
    hits = [hit(ART, r) for r in range(1, 6)] + [hit(PAGE, 6)]
    assert m.hit_at(5)(q, answer("x [1].", hits)) == 0.0
    assert m.hit_at(6)(q, answer("x [1].", hits)) == 1.0
    assert m.hit_at(5)(item(kind="out_of_scope"), answer("x", hits)) is None  # no expected source to find
    assert m.hit_at(5)(q, answer("Please type a question.", status="rejected")) is None


def test_reciprocal_rank_is_one_over_the_first_expected_rank():
    q = item(sources=[PAGE, ART])
    assert m.reciprocal_rank(q, answer("x", [hit("other", 1), hit("other", 2), hit(ART, 3)])) == pytest.approx(1 / 3)
    assert m.reciprocal_rank(q, answer("x", [hit("other", 1)])) == 0.0


def test_context_recall_and_precision_are_id_based():
    q = item(sources=[PAGE, ART])
    a = answer("x", [hit(PAGE, 1), hit("other", 2), hit(PAGE, 3), hit("other", 4)])
    assert m.context_recall(q, a) == 0.5  # one of two expected documents retrieved
    assert m.context_precision(q, a) == 0.5  # two of four passages from expected documents


def test_fact_recall_needs_one_phrasing_of_every_group_and_ignores_case_and_spacing():
    q = item(facts=[["Private Endpoints: OpenAI no", "no private endpoints"], ["256-bit AES"]])
    assert m.fact_recall(q, answer("network security,  private   endpoints: openai NO [1].")) == 0.5
    assert m.fact_recall(q, answer("It has no private endpoints and 256-bit AES [1].")) == 1.0
    assert m.fact_recall(q, answer("", abstained=True)) == 0.0  # an abstention states no fact
    assert m.fact_recall(item(kind="out_of_scope"), answer("x")) is None


def test_citation_validity_requires_every_marker_to_point_to_a_retrieved_passage():
    h1, h2 = hit(ART, 1), hit(PAGE, 2)
    good = answer("A [1]. B [2].", [h1, h2], [cite(1, h1, "A"), cite(2, h2, "B")])
    assert m.citation_validity(item(), good) == 1.0
    dangling = answer("A [1]. B [3].", [h1, h2], [cite(1, h1, "A"), cite(2, h2, "B")])
    assert m.citation_validity(item(), dangling) == 0.0
    not_retrieved = answer("A [1].", [h2], [cite(1, h1, "A")])
    assert m.citation_validity(item(), not_retrieved) == 0.0
    assert m.citation_validity(item(), answer("No markers at all.", [h1])) == 0.0
    assert m.citation_validity(item(), answer("not in the knowledge base", abstained=True)) is None


def test_citation_support_looks_for_the_fact_in_the_cited_snippets():
    h = hit(PAGE, 1, text="Data is encrypted with 256-bit AES. Keys rotate.")
    q = item(facts=[["256-bit AES"], ["keys rotate"]])
    quoted = cite(1, h, "Data is encrypted with 256-bit AES.")
    a = answer("Data is encrypted with 256-bit AES [1]. Keys rotate.", [h], [quoted])
    assert m.citation_support(q, a) == 0.5  # "keys rotate" is in the text but not in a cited snippet


def test_dated_contrast_wants_two_dated_sources_named_in_the_text():
    old, new = hit(ART, 1, date=ARTICLE_DATE), hit(PAGE, 2, date=PAGE_DATE)
    cites = [cite(1, new, "Now every customer is eligible."), cite(2, old, "Access is limited.")]
    q = item(kind="conflict")
    both = answer("Page (2025-11-01): Now every customer is eligible [1]. Article (2024-06-01): Access is limited [2].",
                  [old, new], cites)  # fmt: skip
    assert m.dated_contrast(q, both) == 1.0
    undated = answer("Now every customer is eligible [1]. Access is limited [2].", [old, new], cites)
    assert m.dated_contrast(q, undated) == 0.0
    by_year = answer("In 2025 every customer is eligible [1]; in 2024 access was limited [2].", [old, new], cites)
    assert m.dated_contrast(q, by_year) == 1.0
    assert m.dated_contrast(q, answer("", abstained=True)) == 0.0
    assert m.dated_contrast(item(kind="fact"), both) is None


def test_same_year_dates_named_only_by_year_count_once():
    a, b = hit(ART, 1, date=PAGE_DATE.replace(month=2)), hit(PAGE, 2, date=PAGE_DATE)
    text = "In 2025 one page said X [1] and another said Y [2]."
    result = answer(text, [a, b], [cite(1, a, "X"), cite(2, b, "Y")])
    assert m.dated_contrast(item(kind="conflict"), result) == 0.0


def test_abstention_metrics_and_their_aggregates():
    oos1, oos2 = item("out_of_scope", item_id="o1"), item("out_of_scope", item_id="o2")
    ans1, ans2, ans3 = (item("fact", facts=[["x"]], item_id=f"a{i}") for i in range(3))
    # o1 abstained (right), o2 answered (wrong), a0 abstained (wrong), a1 and a2 answered (right)
    scored = [(oos1, 1.0), (oos2, 0.0), (ans1, 1.0), (ans2, 0.0), (ans3, 0.0)]
    assert m.abstention_precision(scored) == 0.5  # of two abstentions, one was out of scope
    assert m.abstention_recall(scored) == 0.5  # of two out-of-scope questions, one abstained
    assert m.false_abstention_rate(scored) == pytest.approx(1 / 3)
    assert m.abstention_correct(oos1, answer("", abstained=True)) == 1.0
    assert m.abstention_correct(ans1, answer("", abstained=True)) == 0.0
    assert m.abstained(oos1, answer("Please type a question.", status="rejected")) is None
    assert m.abstention_precision([(oos1, 0.0)]) is None  # no abstention: precision undefined


def test_answer_chars_counts_given_answers_only():
    assert m.answer_chars(item(), answer("twelve chars")) == 12.0
    assert m.answer_chars(item(), answer("not in the knowledge base", abstained=True)) is None


def test_mean_ignores_metrics_that_do_not_apply():
    assert m.mean([(item(), 1.0), (item(), None), (item(), 0.0)]) == 0.5
    assert m.mean([(item(), None)]) is None


def test_percentile_interpolates():
    assert m.percentile([10.0, 20.0, 30.0, 40.0], 50) == 25.0
    assert m.percentile([1.0] * 19 + [100.0], 95) == pytest.approx(5.95)
    assert m.percentile([], 50) is None


def test_latency_is_reported_per_stage():
    results = [score_item(item(item_id=f"q{i}"), answer("x [1]."), 0.01) for i in range(3)]
    results[2].answer.timings = {"embed_ms": 8.0, "total_ms": 40.0}
    stats = latency_stats(results)
    assert set(stats) == {"embed_ms", "total_ms"}
    assert stats["total_ms"]["p50"] == 10.0 and stats["total_ms"]["p95"] == pytest.approx(37.0)


def test_summary_splits_by_kind_and_split():
    h = hit(ART, 1)
    good = answer("The service exposes x in full [1].", [h], [cite(1, h, "The service exposes x in full.")])
    results = [
        score_item(item("fact", facts=[["x"]], sources=[ART], item_id="d1", split="dev"), good, 0.0),
        score_item(item("fact", facts=[["y"]], sources=[ART], item_id="h1", split="heldout"), good, 0.0),
        score_item(item("out_of_scope", item_id="h2", split="heldout"), answer("", abstained=True), 0.0),
    ]
    run = summarize(results)
    assert run.summary["fact_recall"] == 0.5
    assert run.by_split["dev"]["fact_recall"] == 1.0 and run.by_split["heldout"]["fact_recall"] == 0.0
    assert run.by_kind["out_of_scope"]["abstention_accuracy"] == 1.0
    assert run.to_dict()["counts"] == {
        "items": 3,
        "by_kind": {"fact": 2, "out_of_scope": 1},
        "by_split": {"dev": 1, "heldout": 2},
        "failing": 1,
        "answered_by": {"extractive": 3},
    }


def test_failure_reasons_say_what_went_wrong_and_where():
    passage = hit(PAGE, 1, text="Use Standard or Regional Provisioned for single-region processing.")
    q = item(facts=[["Use Standard or Regional Provisioned"], ["data zone"]], sources=[PAGE])
    said = "The deployment types differ in where the data is processed."
    a = answer("The deployment types differ in where the data is processed [1].", [passage], [cite(1, passage, said)])
    values = {metric.name: metric.per_question(q, a) for metric in m.METRICS}
    reasons = failure_reasons(q, a, values)
    assert reasons == [
        "missing fact 'Use Standard or Regional Provisioned': in a retrieved passage but not quoted",
        "missing fact 'data zone': not retrieved",
    ]
    assert badness(values) > 0
    oos = item("out_of_scope")
    oos_values = {metric.name: metric.per_question(oos, a) for metric in m.METRICS}
    assert failure_reasons(oos, a, oos_values) == ["answered an out-of-scope question (evidence strength 0.700)"]


def test_a_perfect_answer_has_no_reasons_and_zero_badness():
    h = hit(PAGE, 1, text="Limit value: 30.")
    q = item(facts=[["Limit value: 30"]], sources=[PAGE])
    a = answer("Limit value: 30 [1].", [h], [cite(1, h, "Limit value: 30.")])
    values = {metric.name: metric.per_question(q, a) for metric in m.METRICS}
    assert failure_reasons(q, a, values) == [] and badness(values) == 0.0


# ---------------------------------------------------------------- issue 10: the answer's shape


def test_statements_are_sentences_and_table_body_rows():
    text = (
        "Yes: Azure OpenAI supports them [1]. OpenAI does not, e.g. no VNets [2]!\n"
        "- A list item is a sentence too [3].\n\n"
        "| point | OpenAI | Azure OpenAI |\n| --- | --- | --- |\n| Private endpoints | no | yes [2] |\n"
    )
    statements = split_statements(text)
    assert [s.plain for s in statements] == [
        "Yes: Azure OpenAI supports them.",
        "OpenAI does not, e.g. no VNets!",
        "A list item is a sentence too.",
        "| Private endpoints | no | yes |",
    ]
    assert [s.table_row for s in statements] == [False, False, False, True]
    assert m.answer_statements(item(), answer(text)) == 4.0
    assert m.answer_statements(item(), answer("not covered", abstained=True)) is None


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        ("OpenAI vs Azure OpenAI [1].", "heading"),  # the answerer's full stop; the quoted heading had none
        ("Price: Azure OpenAI: Available here [1].", "link label"),
        ("Learn more [1].", "link label"),
        ("are NOT used for automatically improving Azure OpenAI models [1].", "fragment"),
        ("and the models are stateless [1].", "fragment"),
        ("Prerequisites for the quickstart: [1]", "fragment"),
        ("Azure services [1].", "fragment"),
        ("[!INCLUDE [quota](./includes/tier-1.md)] [1].", "stub"),
        ("Feature | Azure OpenAI | --- | --- Price [1].", "raw table markup"),
        ("Models available: GPT-4 series<br>GPT-3.5-Turbo series [1].", "raw table markup"),
        ("See https://a.example/x and https://b.example/y [1].", "reference list"),
        ("[Azure Cognitive Services](https://x) [How do I get access?](https://y) [1].", "reference list"),
        ("For a comprehensive list of Azure Compliance Offerings [1].", "navigation"),
        ("To learn more, see the quotas page [1].", "navigation"),
        ("Yes: Ability to view the resource and its model deployments in the Foundry portal [1].", "fragment"),
        ("Here's how token costs are calculated: [1]", "fragment"),
    ],
)
def test_the_junk_rule_names_each_kind_of_junk(statement, reason):
    h = hit(ART, 1)
    snippet = strip_markers(statement).rstrip(".")  # what the answerer quoted, before its own full stop
    assert junk_reason(split_statements(statement)[0], {1: snippet}) == reason
    a = answer(statement, [h], [cite(1, h, snippet)])
    assert m.junk_rate(item(), a) == 1.0


@pytest.mark.parametrize(
    "statement",
    [
        "Azure OpenAI offers private networking, regional availability, and responsible AI content filtering [1].",
        "Private Endpoints: OpenAI no; Azure OpenAI yes [1].",
        "Limit value: 30 [1].",
        "gpt-4o supports image input [1].",
        "The 2024 article said Azure OpenAI was available exclusively to Microsoft Enterprise customers [1].",
        "Azure OpenAI supports private endpoints [1].",  # a paraphrase of a table row is judged as written
    ],
)
def test_readable_claims_are_not_junk(statement):
    h = hit(PAGE, 1)
    snippet = "Network Security, Private Endpoints: OpenAI no; Azure OpenAI yes"
    snippet = snippet if "private endpoints [1]" in statement else strip_markers(statement)
    assert m.junk_rate(item(), answer(statement, [h], [cite(1, h, snippet)])) == 0.0


def test_a_quote_keeps_the_punctuation_of_its_source():
    # The answerer wrote the full stop; the source's lead-in ended with a colon, the heading with nothing.
    lead_in, heading = split_statements("Here's how token costs are calculated [1]. OpenAI vs Azure OpenAI [2].")
    snippets = {1: "Here's how token costs are calculated:", 2: "OpenAI vs Azure OpenAI"}
    assert junk_reason(lead_in, snippets) == "fragment" and junk_reason(heading, snippets) == "heading"


def test_junk_rate_counts_quoted_statements_only_and_table_rows_by_their_cells():
    h, h2 = hit(ART, 1), hit(PAGE, 2)
    text = (
        "Here is how they compare:\n| point | OpenAI | Azure OpenAI |\n| --- | --- | --- |\n"
        "| Private endpoints | no | yes [2] |\n| Price | Available here [1] | Available here [1] |\n"
        "Both encrypt data at rest [2]. OpenAI vs Azure OpenAI [1]."
    )
    a = answer(text, [h, h2], [cite(1, h, "OpenAI vs Azure OpenAI"), cite(2, h2, "Both encrypt data at rest.")])
    # Quoted: the two body rows and the two sentences; junk: the link-label row and the heading.
    assert sorted(r for r, _ in m.junk_statements(a)) == ["heading", "link label"]
    assert m.junk_rate(item(), a) == 0.5
    assert m.junk_rate(item(), answer("No marker here.")) is None  # nothing quoted
    assert m.junk_rate(item(), answer("", abstained=True)) is None


def test_a_source_title_ending_in_a_question_mark_does_not_end_the_statement_it_introduces():
    text = (
        "“What is Azure OpenAI in Microsoft Foundry Models?” (2025-07-31): Private link support: Azure OpenAI yes [1]. "
        "Is that all? (It is not.) Done [2]."
    )
    assert [s.plain for s in split_statements(text)] == [
        "“What is Azure OpenAI in Microsoft Foundry Models?” (2025-07-31): Private link support: Azure OpenAI yes.",
        "Is that all?",
        "(It is not.)",
        "Done.",
    ]
    q = item(facts=[["private link support: Azure OpenAI yes"]])
    assert m.lead_accuracy(q, answer(text)) == 1.0


def test_lead_accuracy_looks_for_an_expected_fact_in_the_first_statement_only():
    q = item(facts=[["all Azure customers are eligible"]])
    assert m.lead_accuracy(q, answer("Today all Azure customers are eligible [1]. Some models need a form [2].")) == 1.0
    assert m.lead_accuracy(q, answer("Access has changed [1]. Now all Azure customers are eligible [2].")) == 0.0
    assert m.lead_accuracy(q, answer("", abstained=True)) == 0.0
    assert m.lead_accuracy(item("near_miss", facts=[["x"]], absent="a price"), answer("x [1].")) is None
    assert m.lead_accuracy(item("out_of_scope"), answer("x [1].")) is None
    assert m.lead_accuracy(item(sources=[PAGE]), answer("x [1].")) is None  # no expected fact to lead with


def test_a_table_that_opens_the_answer_is_its_lead():
    q = item("comparison", facts=[["private endpoints"]])
    table = "They differ:\n| point | OpenAI | Azure OpenAI |\n| --- | --- | --- |\n"
    table += "| Private endpoints | no | yes [1] |\n"
    assert lead_text(table).splitlines()[:2] == ["They differ:", "| point | OpenAI | Azure OpenAI |"]
    assert m.lead_accuracy(q, answer(table + "More on private endpoints later [2].")) == 1.0
    assert m.lead_accuracy(q, answer("They differ in many ways [1].\n" + table)) == 0.0


def test_the_numbered_steps_a_how_to_opens_with_are_its_lead():
    q = item("howto", facts=[["select Identity"]])
    steps = "The steps of “Enable the identity”:\n1. Go to your resource [1].\n"
    steps += "2. Under Resource Management, select Identity [2].\n"
    assert lead_text(steps).splitlines() == steps.strip().splitlines()
    assert m.lead_accuracy(q, answer(steps + "\nMore steps are on the page.")) == 1.0
    # A list that does not follow the opening sentence, or a single item, is not the lead.
    assert m.lead_accuracy(q, answer("Go to your resource [1].\n1. Select Identity [2].\n2. Save [3].")) == 0.0
    assert m.lead_accuracy(q, answer("Steps:\n1. Go to your resource [1].\nThen select Identity [2].")) == 0.0


def test_partial_abstention_is_right_on_near_miss_items_and_they_leave_the_abstention_metrics():
    q = item("near_miss", facts=[["provisioned throughput units"]], absent="a PTU price")
    assert m.partial_abstention(q, answer("PTUs are reserved capacity [1].")) == 0.0
    assert m.partial_abstention(q, answer("The price is not covered. PTUs are reserved [1].", missing=["price"])) == 1.0
    assert m.partial_abstention(q, answer("", abstained=True)) == 1.0
    assert m.partial_abstention(item(), answer("x [1].", missing=["price"])) is None
    assert m.partial_abstention(q, answer("Please type a question.", status="rejected")) is None
    # A near-miss question is neither a wrong abstention nor a missed one.
    for fn in (m.abstained, m.abstention_correct):
        assert fn(q, answer("", abstained=True)) is None and fn(q, answer("x [1].")) is None


def test_current_first_wants_the_current_fact_first_and_the_stale_one_dated():
    stale = ["exclusively to Microsoft Enterprise customers"]
    q = item("conflict", facts=[["all Azure customers are eligible"]], stale=stale)
    good = ("Today all Azure customers are eligible [1]. The 2024 article said Azure OpenAI was available exclusively "
            "to Microsoft Enterprise customers [2].")  # fmt: skip
    assert m.current_first(q, answer(good)) == 1.0
    assert m.current_first(q, answer("All Azure customers are eligible [1].")) == 1.0  # no stale fact at all
    stale_first = "Exclusively to Microsoft Enterprise customers (2024) [2]. All Azure customers are eligible [1]."
    assert m.current_first(q, answer(stale_first)) == 0.0
    undated = "All Azure customers are eligible [1]. It said: exclusively to Microsoft Enterprise customers [2]."
    assert m.current_first(q, answer(undated)) == 0.0
    assert m.current_first(q, answer("Azure OpenAI is an Azure service [1].")) == 0.0  # no current fact
    assert m.current_first(q, answer("", abstained=True)) == 0.0
    assert m.current_first(item(facts=[["x"]]), answer(good)) is None


def test_verdict_accuracy_reads_the_first_word_of_the_first_sentence():
    yes, depends = item("yes_no", facts=[["x"]], verdict="yes"), item("yes_no", facts=[["x"]], verdict="depends")
    assert m.verdict_accuracy(yes, answer("Yes. Azure OpenAI supports customer-managed keys [1].")) == 1.0
    assert m.verdict_accuracy(yes, answer("**Yes**, with Azure Key Vault [1].")) == 1.0
    assert m.verdict_accuracy(yes, answer("Azure OpenAI supports them [1]. Yes.")) == 0.0
    assert m.verdict_accuracy(yes, answer("Yesterday's docs say so [1].")) == 0.0  # a word, not a prefix
    assert m.verdict_accuracy(depends, answer("It depends on the model: some need registration [1].")) == 1.0
    assert m.verdict_accuracy(depends, answer("No, never [1].")) == 0.0
    assert m.verdict_accuracy(yes, answer("", abstained=True)) == 0.0
    assert m.verdict_accuracy(item(facts=[["x"]]), answer("Yes [1].")) is None


def test_answer_statements_aggregate_is_the_median():
    texts = [" ".join(["A claim here [1]."] * n) for n in (1, 2, 5)]
    runs = [score_item(item(item_id=f"q{i}"), answer(text), 0.0) for i, text in enumerate(texts)]
    assert summarize(runs).summary["answer_statements_p50"] == 2.0


def test_failure_reasons_name_the_shape_problems():
    h = hit(ART, 1, text="OpenAI vs Azure OpenAI")
    q = item("yes_no", facts=[["all Azure customers are eligible"]], verdict="yes")
    text = "OpenAI vs Azure OpenAI [1]. All Azure customers are eligible [1]."
    a = answer(text, [h], [cite(1, h, "OpenAI vs Azure OpenAI")])
    values = {metric.name: metric.per_question(q, a) for metric in m.METRICS}
    reasons = failure_reasons(q, a, values)
    assert "an expected fact is in the answer but not in its first statement ('OpenAI vs Azure OpenAI.')" in reasons
    assert "does not lead with the verdict 'yes' ('OpenAI vs Azure OpenAI.')" in reasons
    assert "quotes a heading: 'OpenAI vs Azure OpenAI.'" in reasons
    near = item("near_miss", facts=[["x"]], absent="a PTU price")
    values = {metric.name: metric.per_question(near, a) for metric in m.METRICS}
    assert "near miss: does not say that the knowledge base lacks a PTU price" in failure_reasons(near, a, values)
    assert badness(values) > 0
