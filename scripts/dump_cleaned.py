"""Write each indexed document's cleaned text and its chunks to a folder, to read what the index sees.

python scripts/dump_cleaned.py OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

from azcompare.corpus.chunking import chunk_document
from azcompare.corpus.loaders import load_documents
from azcompare.index import chunker_params
from azcompare.settings import Settings


def main(out: Path) -> None:
    settings = Settings()
    out.mkdir(parents=True, exist_ok=True)
    for doc in load_documents(settings):
        (out / f"{doc.id}.md").write_text(
            f"# {doc.title}\n(id: {doc.id}; date: {doc.date}; url: {doc.url})\n\n{doc.text}", encoding="utf-8"
        )
        chunks = chunk_document(doc, chunker_params(settings))
        lines = [f"--- {c.id} [{c.kind}] {c.heading}\n{c.text}\n" for c in chunks]
        (out / f"{doc.id}.chunks.txt").write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else ".cache/cleaned"))
