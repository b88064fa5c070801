"""A GBNF grammar that holds a local model to the answer format: cited sentences, or the abstention.

Small models (SmolLM2-135M) ignore "end every sentence with [n]" and drift into code or chatter.
llama.cpp can constrain decoding to a grammar, so the local provider only lets the model write
sentences that each end with the number of a passage it was given, or the exact abstention line.
What the sentences claim is still checked afterwards (verify.py): the grammar fixes the form only.

It is off by default (AZCOMPARE_LOCAL_GRAMMAR=true turns it on): measured with SmolLM2 on 2 cores,
each token the model would have chosen but the grammar forbids costs several seconds, because
llama.cpp then checks the whole vocabulary against the grammar, and a small model forced into this
form wants forbidden tokens (". ", a line break) after almost every sentence. Qwen 1.5B follows the
format from the prompt alone.
"""

from __future__ import annotations

from azcompare.answering.prompt import ABSTAIN_PHRASE


def answer_grammar(passages: int, max_sentences: int) -> str:
    """GBNF for up to `max_sentences` sentences, each ending in one or two markers from 1..passages."""
    numbers = " | ".join(f'"{n}"' for n in range(passages, 0, -1))  # longest first: "10" before "1"
    more = " ".join(['(" " claim)?'] * max(max_sentences - 1, 0))
    return "\n".join(
        [
            "root ::= abstain | claim " + more,
            f'abstain ::= "{ABSTAIN_PHRASE}"',
            # (A bounded repetition such as char{2,200} makes llama.cpp sample many times slower.)
            'claim ::= start char+ "."? " [" num "]" ("[" num "]")? "."?',
            f"num ::= {numbers}",
            # A sentence starts with a letter, digit or quote; it may not contain a bracket, a line break
            # or a sentence end (a full stop only inside a number, "3.5"): after its last word, or its
            # full stop, the sentence has to name its passage.
            'start ::= [A-Za-z0-9"(]',
            'char ::= [^\\[\\]\\n.!?] | "." [0-9]',
        ]
    )
