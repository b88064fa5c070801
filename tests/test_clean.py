"""Cleaning of real Hugo (the article) and Microsoft Learn (the mirror) Markdown."""

from __future__ import annotations

import datetime as dt

from azcompare.corpus.clean import clean_markdown, metadata_date, parse_date, split_front_matter
from conftest import ROOT


def _mirror(mirror_dir, name: str) -> str:
    return (mirror_dir / name).read_text(encoding="utf-8")


def test_article_shortcodes_become_labelled_blocks():
    raw = (ROOT / "corpus" / "openai-vs-azure-openai.md").read_text(encoding="utf-8")
    assert "{{< admonition info Important >}}" in raw and "<!--more-->" in raw
    text = clean_markdown(split_front_matter(raw)[1])
    assert "{{" not in text and "}}" not in text
    assert "<!--more-->" not in text
    assert "\nImportant:\n" in text
    assert "are NOT available to OpenAI." in text
    # The reference list is only links: nothing in it is a claim, so it goes (its label stays alone).
    assert "\nReferences:\n" in text and "Peeling Back the Layers" not in text and "msandbu" not in text
    # Links keep their text, lose their target.
    assert "Available exclusively to Microsoft Enterprise customers" in text
    assert "](https://" not in text


def test_front_matter_becomes_metadata(mirror_dir):
    meta, body = split_front_matter(_mirror(mirror_dir, "azure-openai-overview.md"))
    assert meta["title"] == "What is Azure OpenAI in Microsoft Foundry Models?"
    assert metadata_date(meta) == dt.date(2025, 7, 31)
    assert "description" in meta
    assert not body.lstrip().startswith("---")
    assert "ms.author" not in body


def test_hugo_front_matter_date_wins_over_ms_date():
    meta, body = split_front_matter("---\ntitle: Post\ndate: 2024-05-06\nms.date: 01/02/2023\n---\n# Post\n")
    assert meta["title"] == "Post" and metadata_date(meta) == dt.date(2024, 5, 6)
    assert body.strip() == "# Post"


def test_dates_in_every_shape():
    assert parse_date("1/31/2026") == dt.date(2026, 1, 31)
    assert parse_date("12/6/2025") == dt.date(2025, 12, 6)
    assert parse_date(dt.date(2024, 6, 1)) == dt.date(2024, 6, 1)
    assert parse_date("not a date") is None


def test_ms_docs_includes_and_alerts(mirror_dir):
    overview = clean_markdown(split_front_matter(_mirror(mirror_dir, "azure-openai-overview.md"))[1])
    assert "[!NOTE]" not in overview
    assert "Note: A Limited Access registration form is required" in overview
    limited = clean_markdown(split_front_matter(_mirror(mirror_dir, "azure-openai-limited-access.md"))[1])
    assert "[!INCLUDE" not in _strip(limited)
    assert "non-english-translation" not in limited
    assert "all Azure customers are eligible" in limited


def test_ms_docs_images_and_zone_markers_dropped(mirror_dir):
    network = clean_markdown(split_front_matter(_mirror(mirror_dir, "azure-openai-network-private-endpoints.md"))[1])
    assert ":::image" not in network and "alt-text" not in network
    quickstart_raw = _mirror(mirror_dir, "azure-openai-use-your-data-quickstart.md")
    assert "::: zone pivot" in quickstart_raw
    quickstart = clean_markdown(split_front_matter(quickstart_raw)[1])
    assert ":::" not in quickstart and "zone-end" not in quickstart


def test_html_is_reduced_to_text(mirror_dir):
    raw = split_front_matter(_mirror(mirror_dir, "azure-openai-overview-2023-azure-docs.md"))[1]
    assert '<a href="https://aka.ms/oaiapply"' in raw
    text = clean_markdown(raw)
    assert "<a " not in text and "Apply now" in text
    assert "Microsoft’s commitment to responsible AI" in text


def test_code_blocks_are_kept_verbatim():
    text = clean_markdown("Run:\n\n```bash\n# not a heading\naz login --use-device-code\n```\n")
    assert "# not a heading" in text and "az login --use-device-code" in text


def _strip(text: str) -> str:
    return text.replace(" ", "")


def test_check_mark_lines_become_items_of_their_lead_in(mirror_dir):
    text = clean_markdown(split_front_matter(_mirror(mirror_dir, "azure-openai-role-based-access-control.md"))[1])
    assert "would be able to perform the following common tasks:" in text
    assert "\n- Ability to view the resource and associated model deployments in Microsoft Foundry portal." in text
    assert "\n- Create new Azure OpenAI resources" in text
    assert not any(line.lstrip().startswith(("✅", "❌", "Yes: ", "No: ")) for line in text.splitlines())


def test_a_single_linked_list_item_stays_but_a_list_of_links_goes():
    text = clean_markdown("Intro:\n\n- [Only link](https://a.example)\n\nText.\n\n- [One](/a)\n- [Two](/b)\n")
    assert "Only link" in text and "One" not in text and "Two" not in text


def test_a_list_written_with_line_breaks_in_a_table_cell_becomes_items_joined_by_semicolons():
    text = clean_markdown(
        "| Category | Services |\n| --- | --- |\n"
        "| [Language](/a) | - [Azure Language](/b) <br><br> - [Translator](/c) <br><br> - [Models](/d) |\n"
        "| Files | 512 MB via the API<br><br>200 MB via the portal |\n"
        "| Dash | - |\n"
    )
    assert "| Language | Azure Language; Translator; Models |" in text
    assert "| Files | 512 MB via the API; 200 MB via the portal |" in text
    assert "| Dash | - |" in text  # a lone dash is a value (not available), not a list marker
