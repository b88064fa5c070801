"""A verdict word only in front of a statement that decides the question (answering/decides.py, compose.verdict)."""

from __future__ import annotations

import datetime as dt

import pytest

from azcompare.answering.citations import Evidence
from azcompare.answering.compose import compose
from azcompare.answering.decides import asked_verb, decides
from azcompare.answering.question import read_question
from azcompare.text import Sentence
from azcompare.types import Chunk, Hit

PAGE = dt.date(2025, 11, 26)


def _lead(question: str, statement: str) -> str:
    chunk = Chunk(id="page#0", doc_id="page", title="A page", text=statement, date=PAGE)
    evidence = Evidence(Hit(chunk=chunk, score=0.5, rank=1), Sentence(statement, ((0, len(statement)),)), 0.5, 0.5)
    return compose(read_question(question), [evidence], PAGE, 365).text


@pytest.mark.parametrize(
    ("clause", "verb"),
    [
        ("Can we turn the abuse monitoring off for our tenant?", "turn"),
        ("Do I have to prove a business need to Microsoft first?", "prove"),
        ("Is there a way to block developers from picking batch deployments?", "block"),
        ("Does the service still re-index the files every night?", None),  # the subject is no pronoun nor service
        ("Does Azure OpenAI support customer-managed keys?", None),  # a light verb: its object is the point
        ("Are the embeddings kept in the region?", None),  # a copula: its complement is the point
        ("Will OpenAI ever re-encrypt stored files?", "re-encrypt"),
        ("Do we still need to apply again for the new model?", "apply"),  # a verb ending in "ly"
        ("Can we quickly supply our own keys?", "supply"),
        ("Can Microsoft employees read our prompts?", None),  # "employees" goes on naming the subject
        ("Can the Azure OpenAI playground export chats?", "export"),
    ],
)
def test_the_asked_verb_follows_the_auxiliary_and_a_plain_subject(clause, verb):
    assert asked_verb(clause) == verb


@pytest.mark.parametrize(
    ("question", "statement", "decided"),
    [
        # The topic without the predicate: abuse monitoring is named, turning it off is not.
        (
            "Can we turn abuse monitoring off for our resource?",
            "Abuse monitoring reviews flagged prompts with automated systems.",
            False,
        ),
        (
            "Can we turn abuse monitoring off for our resource?",
            "Customers may apply to disable abuse monitoring.",
            True,
        ),
        # A synonym the statement uses for the asked verb ("see" / "view").
        ("Can they see the usage reports?", "The role can view usage reports in the portal.", True),
        ("Can they see the usage reports?", "The role grants write access to deployments.", False),
        ("Will Microsoft look at our prompts?", "Authorized employees may review flagged prompts.", True),
        # A light verb asks about its object.
        ("Does OpenAI offer batch endpoints?", "Batch endpoints are available for every model.", True),
        ("Does OpenAI offer batch endpoints?", "Fine-tuning jobs run in the background.", False),
        # The subject of a light verb is not what is asked of it.
        ("Does batch processing have a daily cap?", "Batch processing runs within 24 hours.", False),
        ("Does batch processing have a daily cap?", "The daily cap is 50 jobs.", True),
        # An object that is a pronoun leaves the subject as what is asked.
        ("Does every region support them?", "Rotating keys re-encrypts nothing.", False),
        # A release status is decided only by a statement of one.
        ("Are the speech models in preview?", "The speech models are billed per minute.", False),
        ("Are the speech models in preview?", "The speech models are generally available.", True),
        # A purpose after the predicate is not what is asked.
        ("Can our app call a private endpoint so traffic stays internal?", "Allow traffic from the subnet.", False),
        ("Can our app call a private endpoint so traffic stays internal?", "Private endpoints are supported.", True),
        # A clause that only refers back is read with what the message said before it.
        ("A blog says prompts are logged forever. Is that still true?", "Prompts are not logged after 30 days.", True),
        # The object's head noun names what is asked; a statement holding only its modifier is about another thing.
        ("Does OpenAI support tenant-scoped tokens?", "Tenant-scoped roles are assigned per resource.", False),
        ("Does OpenAI support tenant-scoped tokens?", "Tokens scoped to a tenant are accepted.", True),
        ("Can we bring our own storage accounts to the service?", "Storage encryption uses Microsoft keys.", False),
        ("Can we bring our own storage accounts to the service?", "You can connect your own storage account.", True),
        ("Can we switch the safety filters off?", "Customers may apply to switch filters off.", True),
        # A copula question's participle or adjective is what is asked of its subject.
        ("Is the realtime API offered in Europe?", "Filters apply to all models except the realtime API.", False),
        ("Are usage records retained in the region?", "Usage records are retained in the resource's region.", True),
        ("Are usage records retained in the region?", "Usage records are stored in the resource's region.", True),
        ("Are usage records retained in the region?", "Usage records are shown in the resource's region.", False),
        # The status asked for is checked on its own: a statement about preview models in general is not about X.
        ("Is the Files API still in preview?", "Models designated preview follow another lifecycle.", False),
        ("Is the Files API still in preview?", "The Files API (preview) accepts JSONL uploads.", True),
    ],
)
def test_a_statement_decides_when_it_speaks_to_the_asked_predicate(question, statement, decided):
    assert decides(question, statement) is decided


def test_a_statement_about_the_topic_but_not_the_predicate_leads_without_a_verdict_word():
    question = "Can we turn abuse monitoring off for our resource?"
    assert _lead(question, "Abuse monitoring reviews flagged prompts with automated systems.").startswith("Abuse")
    assert _lead(question, "Customers can apply to disable abuse monitoring.").startswith("Yes — ")


@pytest.mark.parametrize(
    ("question", "verdict"),
    [("Is the realtime audio model still in preview?", "No"), ("Is the realtime audio model available?", "Yes")],
)
def test_a_generally_available_statement_answers_a_question_about_preview_with_no(question, verdict):
    assert _lead(question, "The realtime audio model is now generally available.").startswith(f"{verdict} — ")


@pytest.mark.parametrize(
    ("question", "verdict"),
    [
        ("Can the OpenAI API be reached through Azure ExpressRoute?", "No"),  # Azure names a product, not the service
        ("Can Azure OpenAI be reached through ExpressRoute?", "Yes"),
        ("Can Azure's OpenAI service be reached through ExpressRoute?", "Yes"),
    ],
)
def test_a_matrix_row_answers_for_the_service_the_question_names(question, verdict):
    row = "Network Security, ExpressRoute: OpenAI no; Azure OpenAI yes"
    assert _lead(question, row).startswith(f"{verdict} — ")


@pytest.mark.parametrize(
    ("question", "start"),
    [
        ("Can every role view quota in the portal?", "It depends — "),  # the row's point: yes for some roles
        ("Is the Usage Reader role part of Azure AI Services?", "View quota"),  # only its columns are named
    ],
)
def test_a_row_of_check_marks_decides_only_a_question_about_its_label(question, start):
    row = "View quota in the portal: Usage Reader yes; Deployment Contributor no"
    assert _lead(question, row).startswith(start)


def test_a_region_tables_row_decides_a_question_about_its_region():
    row = "japaneast: o9-max, 2026-01-01 yes; o9-mini, 2026-01-01 no"
    assert _lead("Can we run batch jobs in Japan East?", row).startswith("It depends — japaneast:")


def _current(text: str) -> Evidence:
    chunk = Chunk(id=f"{text[:8]}#0", doc_id=text[:8], title="A page", text=text, date=PAGE)
    return Evidence(Hit(chunk=chunk, score=0.4, rank=2), Sentence(text, ((0, len(text)),)), 0.4, 0.5)


@pytest.mark.parametrize(
    ("second", "verdict"),
    [
        ("The realtime audio model with the mobile SDKs is in preview.", "It depends"),
        ("The realtime audio model is billed per token.", "No"),  # says nothing about preview
    ],
)
def test_generally_available_in_one_way_and_in_preview_in_another_depends(second, verdict):
    question = read_question("Is the realtime audio model in preview?")
    lead = _current("The realtime audio model is now generally available.")
    text = compose(question, [lead, _current(second)], PAGE, 365).text
    assert text.startswith(f"{verdict} — "), text


def test_a_preview_statement_answers_a_question_about_general_availability_with_no():
    assert _lead(
        "Is the realtime audio model generally available?", "The realtime audio model is in preview."
    ).startswith("No — ")


CONTRAST = "All tenants can set their own retention period, however, an approval is required to delete the audit log."
SAME_OR_DIFFERENT = (
    "The workspace and the vault must share the same region, but they may sit in different resource groups."
)
JOB_LIMIT = "Maximum export job time (the job fails if exceeded): Limit value: 48 hours."
ROLE_ROW = "Export invoices: Billing Reader yes; Billing Owner yes; Reader no"


@pytest.mark.parametrize(
    ("question", "statement", "verdict"),
    [
        # What is asked is the statement's exception: it says the opposite for it.
        (
            "Are prompts to DALL-E 3 screened by the content filters?",
            "The content filters screen prompts to every image model except DALL-E 3.",
            "No",
        ),
        # A common word of the exception is no sign that the question asks about the exception: it depends.
        (
            "Are our prompts screened by the content filters?",
            "The content filters screen prompts to every image model except DALL-E 3.",
            "It depends",
        ),
        # Past a stated limit.
        ("Can a vector store hold more than 64 files?", "Files per vector store: Limit value: 64.", "No"),
        ("Can a vector store hold more than 1,000 files?", "Files per vector store: up to 1,000.", "No"),
        # Only another figure than the one asked about.
        ("Can we use 3072-bit keys for encryption?", "Only RSA keys of size 2048 are supported for encryption.", "No"),
        ("Can we use 2048-bit keys for encryption?", "Only RSA keys of size 2048 are supported for encryption.", "Yes"),
        # "no <thing>" negates; an aside in brackets does not.
        ("Do the deployments retain any prompts?", "Deployments are stateless: no prompts are retained.", "No"),
        (
            "Is uploaded data held in our own tenant?",
            "Uploaded data is held in your tenant (some preview features may not support this).",
            "Yes",
        ),
        # "Not" inside a name in title case negates nothing.
        (
            "Must the vault have Soft Delete turned on?",
            "The vault must have the Soft Delete and Do Not Purge properties turned on.",
            "Yes",
        ),
        # A condition after a contrast counts only when that part speaks to the question.
        ("Can every tenant set its own retention period?", CONTRAST, "Yes"),
        ("Can a tenant delete the audit log?", CONTRAST, "It depends"),
        # A qualifier after a contrast still conditions the verdict.
        (
            "Can every tenant schedule exports?",
            "Exports can be scheduled by every tenant, but only in some regions.",
            "It depends",
        ),
        # A question about different things reads "same" or "different" in the statement.
        ("Must the workspace and the vault share one region?", SAME_OR_DIFFERENT, "Yes"),
        ("May the workspace and the vault live in separate regions?", SAME_OR_DIFFERENT, "No"),
        ("May the workspace and the vault sit in different resource groups?", SAME_OR_DIFFERENT, "Yes"),
        # Going past a limit whose breach fails the job is a yes to the failure, a no to going past it.
        ("Will an export job fail when it runs over 48 hours?", JOB_LIMIT, "Yes"),
        ("Can an export job run for more than 48 hours?", JOB_LIMIT, "No"),
        # A role table's row answers for the column the question names in full.
        ("Can the Billing Reader role export invoices?", ROLE_ROW, "Yes"),
        ("Can the Reader role export invoices?", ROLE_ROW, "No"),
        # Doing without a thing reads any form of its word ("registering" / "Registration").
        (
            "Can the vision preview be tried without registering?",
            "Registration is required to try the vision preview.",
            "No",
        ),
        # A question about every one is answered no by a statement about some.
        ("Is an approval needed in every region?", "An approval is needed in some regions.", "No"),
    ],
)
def test_the_verdict_reads_what_the_statement_says_of_the_asked_point(question, statement, verdict):
    assert _lead(question, statement).startswith(f"{verdict} — ")


def test_a_question_with_a_negated_premise_gets_no_verdict_word():
    # "Doesn't it …?": "No" could mean "it does not" or "you are wrong"; the statement says which.
    text = _lead("Am I right that the archive tier doesn't compress backups?", "The archive tier compresses backups.")
    assert text.startswith("The archive tier compresses backups")
