"""Open time of the index: how long a fresh process takes to open the knowledge base (model already loaded).

    python scripts/open_time.py [--runs 5]

Each run is a new process that loads the embedding model first (not counted), then times
`open_knowledge_base` on the index AZCOMPARE_* names. Prints each run and the median, in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

_CHILD = """
import time
from azcompare import Settings
from azcompare.embeddings import embedding_function
from azcompare.retrieval import open_knowledge_base
settings = Settings()
embedding_function(settings)
t0 = time.perf_counter()
kb = open_knowledge_base(settings)
print((time.perf_counter() - t0) * 1000, len(kb.chunks))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    times: list[float] = []
    for run in range(args.runs):
        out = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, check=True).stdout
        ms, chunks = out.split()
        times.append(float(ms))
        print(f"run {run + 1}: {float(ms):.0f} ms ({chunks} chunks)")
    print(f"open time median of {args.runs}: {statistics.median(times):.0f} ms")


if __name__ == "__main__":
    main()
