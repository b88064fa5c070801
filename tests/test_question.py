"""Reading a question: the shape of answer it expects, the specific things it asks for, its language."""

from __future__ import annotations

import pytest

from azcompare.answering.question import (
    asked_clause,
    compared_things,
    compares_other_things,
    language_of,
    question_shape,
    read_question,
    search_query,
    topic_of,
    who_asks,
)
from azcompare.answering.readable import junk_reason
from azcompare.settings import Settings


@pytest.mark.parametrize(
    ("question", "shape"),
    [
        ("Which is cheaper, OpenAI or Azure OpenAI?", "compare"),
        ("What's the difference between OpenAI and Azure OpenAI in terms of data privacy?", "compare"),
        ("Is my data used to train models on Azure OpenAI?", "yes_no"),
        ("Does Azure OpenAI support the Assistants API in Japan East?", "yes_no"),
        ("Is Azure OpenAI operated by OpenAI, or does it call OpenAI's API?", "open"),
        ("How many Azure OpenAI resources can I create per region?", "number"),
        ("How do I create a private endpoint for Azure OpenAI?", "howto"),
        ("Which roles are there for Azure OpenAI?", "list"),
        ("Tell me about abuse monitoring.", "open"),
        # The yes/no question after background, or after a condition ahead of it.
        ("We switched to the Batch API last month. Are batch jobs billed at the standard rate?", "yes_no"),
        ("If I rotate the key in Key Vault, does the resource pick up the new version by itself?", "yes_no"),
        ("Our team runs gpt-4.1 in Sweden Central. When the quota runs out, can we borrow quota elsewhere?", "yes_no"),
        ("Once the deployment is deleted, what happens to the fine-tuned weights?", "open"),
        ("Our resource is in Japan East. Is it billed per token, or does it charge per hour?", "open"),
        ("Our key vault already holds the key. How do I let the resource read it?", "howto"),
    ],
)
def test_shapes(question, shape):
    assert question_shape(question) == shape


@pytest.mark.parametrize(
    ("question", "labels"),
    [
        (
            "How much does a provisioned throughput unit cost per month in West Europe?",
            ["a price", "the region West Europe"],
        ),
        ("What is the SLA for Azure OpenAI?", ["an SLA figure"]),
        ("When will gpt-4o be retired?", ["a date", "gpt-4o"]),
        ("Does Azure OpenAI support the Assistants API in Japan East?", ["the region Japan East"]),
        ("Does Azure OpenAI support private endpoints?", []),
    ],
)
def test_asked_for_things(question, labels):
    assert [w.label for w in read_question(question).wants] == labels


def test_a_region_is_found_in_its_compact_form_and_not_in_a_longer_name():
    (want,) = read_question("Is it in East US?").wants
    assert want.found_in("| eastus | ✅ |") and want.found_in("East US")
    assert not want.found_in("eastus2") and not want.found_in("East US 2")
    query = search_query("Is it in East US?", Settings(sources_file=None))
    assert "eastus" in query.text.split() and [p.search("| eastus | yes |") is not None for p in query.required] == [
        True
    ]


@pytest.mark.parametrize("written", ["westeurope", "WestEurope", "west  europe", "West Europe"])
def test_a_region_named_in_a_question_in_any_spacing_is_that_region(written):
    # The region tables write names without spaces; users copy them ("... in westeurope?").
    (region,) = read_question(f"Can I deploy gpt-4o in {written}?").wants[:1]
    assert region.label == "the region West Europe" and region.found_in("| westeurope | yes |")


@pytest.mark.parametrize(
    ("message", "asker", "clause"),
    [
        ("Our CISO wants to know: can we keep data here?", "Our CISO wants to know: ", "can we keep data here?"),
        ("Quick question: how do I rotate keys?", "Quick question: ", "how do I rotate keys?"),
        # A colon after a point's name is not someone asking: the point is part of the question.
        ("Encryption at Rest: does OpenAI have it?", "", "Encryption at Rest: does OpenAI have it?"),
    ],
)
def test_the_words_that_say_who_asks_are_not_the_asked_clause(message, asker, clause):
    assert who_asks(message) == asker and asked_clause(message) == clause


def test_prices_and_sla_figures_are_told_from_other_numbers():
    price, sla = read_question("How is it billed and what is the SLA?").wants
    assert price.found_in("It costs $2.50 per hour.") and not price.found_in("Limit value: 100,000")
    assert price.found_in("Global Batch, including 50% cost savings") and not price.found_in("50% of the quota")
    assert sla.found_in("The SLA guarantees 99.9% uptime.") and not sla.found_in("50% cost savings")


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Kann ich meine Daten mit Azure OpenAI in der EU behalten?", "de"),
        ("Quelle est la différence entre OpenAI et Azure OpenAI ?", "fr"),
        ("¿Puedo usar Azure OpenAI en Europa con mis datos?", "es"),
        ("Azure OpenAI のリソースはリージョンあたり何個まで作成できますか?", "ja"),  # one "word" to a regex
        ("Azure OpenAI 支持私有终结点吗?", "zh"),
        ("Поддерживает ли Azure OpenAI частные конечные точки?", "ru"),
        ("Can Azure OpenAI run in São Paulo?", "en"),
        ("Does OpenAI support private endpoints?", "en"),
        ("PTU price West Europe", "en"),
        ("Azure OpenAI gpt-4o regions", "en"),
    ],
)
def test_language(question, language):
    assert language_of(question) == language


@pytest.mark.parametrize(
    ("sentence", "reason"),
    [
        ("OpenAI vs Azure OpenAI", "heading"),
        ("Price: Azure OpenAI: Available here", "link label"),
        ("Learn more", "link label"),
        ("To learn about creating resources, see Deploy models in the Foundry portal.", "navigation"),
        ("For more on networking in Azure OpenAI resource, see Configure Virtual Networks.", "navigation"),
        ("To get started, see the quickstart for your language.", "navigation"),
        ("To get started with Azure OpenAI, you need to create an Azure OpenAI resource in your subscription.", None),
        ("japaneast: gpt-4o, 2024-05-13 no; gpt-35-turbo, 0613 yes", None),
        ("are NOT used for automatically improving Azure OpenAI models.", "fragment"),
        ("Your data is:", "fragment"),
        ("Yes: Ability to view the resource in the portal.", "fragment"),
        ("See https://a.example/x and https://b.example/y for both.", "reference list"),
        ("| Feature | OpenAI |", "markup"),
        ("[!INCLUDE [banner](../includes/banner.md)]", "markup"),
        ("Azure OpenAI encrypts data at rest with FIPS 140-2 compliant 256-bit AES encryption.", None),
        ("Network Security, Private Endpoints: OpenAI no; Azure OpenAI yes", None),
        ("gpt-4o supports structured outputs in every region listed.", None),
    ],
)
def test_junk_rule(sentence, reason):
    assert junk_reason(sentence) == reason


@pytest.mark.parametrize(
    ("question", "other"),
    [
        ("Global Standard vs Data Zone Standard: where is my data processed in each?", True),
        ("What's the difference between the Cognitive Services OpenAI User and Contributor roles?", True),
        ("What's the difference between OpenAI and Azure OpenAI for network security?", False),
        ("Which is cheaper, OpenAI or Azure OpenAI?", False),
        ("What's the difference between the two platforms?", False),  # the services, unnamed
        ("OpenAI vs Azure OpenAI: which is more secure?", False),
    ],
)
def test_a_comparison_of_two_other_things_is_told_apart(question, other):
    # Such a comparison gets no OpenAI | Azure OpenAI table: its two sides are not those columns.
    assert compares_other_things(question) is other


@pytest.mark.parametrize(
    ("question", "first", "second"),
    [
        (
            "How is Provisioned Managed different? Between Standard and Provisioned Managed, I mean.",
            "Standard",
            "Provisioned-Managed",
        ),
        ("gpt-4o vs gpt-4o-mini for summarising tickets?", "GPT-4o", "gpt-4o-mini"),
        (
            "Global Provisioned or Data Zone Provisioned: which keeps data in the EU?",
            "global provisioned",
            "DataZone Provisioned",
        ),
        ("Which suits a nightly job better, Global Batch or Data Zone Batch?", "Global Batch", "Data Zone Batch"),
        ("Which is cheaper, OpenAI or Azure OpenAI?", None, None),
        ("Compare the Usages Reader and Contributor roles", None, None),  # no two things named as compared
        ("What is the difference between OpenAI and Azure OpenAI?", None, None),  # the services: one holds the other
    ],
)
def test_the_two_things_a_question_compares_are_found_in_any_spelling(question, first, second):
    found = compared_things(question)
    if first is None:
        assert found is None
        return
    assert found is not None
    a, b = found
    assert a.search(f"Use {first} here") and b.search(f"Use {second} here")
    assert not a.search(f"Use {second} here") and not b.search(f"Use {first} here")  # each finds its own only


@pytest.mark.parametrize(
    ("question", "labels"),
    [
        ("How many business days until a support ticket is answered?", ["a duration or interval"]),
        ("What's the timeout of a streaming call, in seconds?", ["a duration or interval"]),
        ("How many milliseconds does the moderation step add to a call?", ["a duration or interval"]),
        ("What is the knowledge cutoff of gpt-4o-mini?", ["a date", "gpt-4o-mini"]),
        ("How many vector stores can one project hold?", ["the number of vector stores"]),
        ("What's the maximum number of deployments per resource?", ["the number of deployments"]),
        ("What languages does the speech model understand?", ["the languages"]),
        ("Which exact models are covered by the data zone promise?", ["the names of the models"]),
        # A count of a unit is a duration, a rate or a price; a family of models is an answer to "which models".
        ("How many tokens per minute does the default quota give?", ["the number of tokens per minute"]),
        ("Which models support the batch API?", []),
        ("Which programming languages have an SDK?", []),
    ],
)
def test_more_kinds_of_asked_for_values(question, labels):
    assert [w.label for w in read_question(question).wants] == labels


def test_counts_languages_and_model_names_are_told_from_other_figures():
    (count,) = read_question("How many vector stores can one project hold?").wants
    assert count.found_in("Maximum vector stores per project: Limit value: 10,000")
    assert not count.found_in("Maximum files per assistant: Limit value: 10,000")
    (languages,) = read_question("Which languages does the filter support?").wants
    assert languages.found_in("It was tested in English, German and Japanese.")
    assert not languages.found_in("The filter supports four categories.")
    (models,) = read_question("Which specific models need registration?").wants
    assert models.found_in("Registration is required for gpt-5 and o3-pro.")
    assert not models.found_in("Some advanced models need registration.")


def test_a_version_in_brackets_is_no_date_and_a_model_name_may_lack_its_hyphen():
    date, name = read_question("What is the training cutoff of gpt4o?").wants
    assert date.found_in("Training data (up to): October 2023") and date.found_in("It retires on 2026-03-31.")
    assert not date.found_in("gpt-4o (2024-11-20): Description: text and images")
    assert name.found_in("gpt-4o (2024-11-20)") and not name.found_in("gpt-4o-mini (2024-07-18)")


def test_a_count_names_the_plural_noun_counted_and_finds_its_figure_in_words_or_expanded():
    assert [w.label for w in read_question("How many regions serve o3 today?").wants] == ["the number of regions", "o3"]
    (levels,) = read_question("How many severity levels does the filter use?").wants
    assert levels.found_in("It scores content at four severity levels.")
    (units,) = read_question("How many PTUs can a deployment have?").wants
    assert units.found_in("Maximum provisioned throughput units per deployment: Limit value: 100,000")
    assert not units.found_in("Tokens per minute: Limit value: 5")


@pytest.mark.parametrize(
    ("question", "name"),
    [
        ("Is codex-mini offered with Global Standard?", "codex-mini"),
        ("Is babbage-002 still offered for fine-tuning?", "babbage-002"),
        ("Can o3-pro be deployed with provisioned throughput?", "o3-pro"),
        ("Does whisper-1 transcribe audio in batch?", "whisper-1"),
    ],
)
def test_a_model_family_name_takes_its_version_and_size_suffix(question, name):
    (want,) = read_question(question).wants
    assert want.label == name
    assert want.found_in(f"{name}: Region: East US 2") and not want.found_in(f"{name.split('-')[0]}-other: Region")


def test_an_amount_asked_for_needs_money_and_a_relative_price_answers_how_it_is_priced():
    (amount,) = read_question("What would an hour of the Developer tier cost us?").wants
    (per,) = read_question("What is the price per million tokens for Global Standard?").wants
    (how,) = read_question("How is Data Zone Batch billed?").wants
    (than,) = read_question("What does Global Batch cost compared to Global Standard?").wants
    for want in (amount, per):
        assert want.found_in("It costs $2.50 per hour.") and not want.found_in("Billing: 50% discount")
    for want in (how, than):
        assert want.found_in("Billing: 50% discount") and want.found_in("It costs $2.50 per hour.")


@pytest.mark.parametrize(
    ("question", "asking", "topic"),
    [
        ("How many requests per minute can o4-mini handle by default?", "requests per minute", "o4-mini"),
        ("What is the maximum number of keys I can rotate per day?", "maximum number of", "keys I can rotate"),
        ("When will the Assistants API reach general availability?", "When will", "Assistants API"),
        # A statement that there is no SLA, or what something is billed by, is on the topic: those words stay.
        ("What uptime SLA does the Developer tier have?", "", "uptime SLA"),
    ],
)
def test_the_topic_of_a_question_is_without_the_words_asking_for_a_value(question, asking, topic):
    rest = topic_of(question)
    assert topic in rest and (not asking or asking not in rest), rest


def test_which_regions_asks_for_region_names_unless_it_asks_how_to_find_them():
    regions, name = read_question("Which regions serve o4-mini today?").wants
    assert (regions.label, name.label) == ("the regions", "o4-mini")
    assert regions.found_in("o4-mini: Region: East US2 & Sweden Central") and regions.found_in("swedencentral: yes")
    assert not regions.found_in("o4-mini: Region: See the models table.")
    assert read_question("How do I check which regions still have quota for my model?").wants == ()


def test_a_model_asked_about_in_a_region_must_be_named_with_it():
    ask = read_question("Is o9-max offered in Norway East?")
    other_models = [
        "norwayeast: gpt-4o, 2024-05-13 no; gpt-4, 1106-Preview yes",
        "o9-max: Region: See the models table.",
    ]
    assert ask.missing_from(other_models, []) == ["the region Norway East"]
    assert ask.missing_from(["norwayeast: o9-max, 2026-01-01 yes; gpt-4o no"], []) == []
    assert ask.missing_from(["o9-max: Region: Norway East & Brazil South"], []) == []


def test_a_model_name_is_not_a_longer_versions_name():
    (name,) = [w for w in read_question("Is gpt-5 offered with Global Standard?").wants if w.kind == "name"]
    assert name.found_in("gpt-5 (2025-08-07): Region: See the models table.") and name.found_in("Use gpt-5.")
    assert not name.found_in("gpt-5.2-codex: Region: East US2") and not name.found_in("gpt-5-mini: Region")
