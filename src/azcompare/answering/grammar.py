"""GBNF grammars that hold a local model to the answer format: cited sentences, or the abstention; and
the one cited sentence the local model leads an answer with (`lead_grammar`).

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

from collections.abc import Sequence

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


def lead_grammar(statements: int, verdict: str = "") -> str:
    """GBNF for the local model's lead: one sentence, opening with `verdict` ("Yes", "No", "It depends")
    when one is given, and ending with a full stop or with the marker of one of `statements` numbered
    statements and a full stop.

    Only the shape is fixed: which statement it draws on and what it says are the model's, and are
    verified afterwards (a sentence without a marker is attributed to the statement that backs it, if
    one does: verify.attribute). Measured with SmolLM2-135M on dev questions, the shape is what it got
    wrong besides the content: lists, a copy of the prompt's instruction or closing tag after the
    answer, a second sentence that drifts from the facts. The body may not hold a bracket, a line break,
    a tag character, a semicolon (a raw feature-matrix row) or a sentence end; a full stop only inside a
    number ("4.1"). Each forbidden token costs a pass of the grammar over the vocabulary, so the grammar
    is a few rules without bounded repetition. Off by default (AZCOMPARE_LOCAL_LEAD_GRAMMAR): measured on
    dev it fixed the form but kept no more answers (settings.local_lead_grammar).
    """
    numbers = " | ".join(f'"{n}"' for n in range(statements, 0, -1))
    opening = f'"{verdict}, " ' if verdict else ""
    return "\n".join(
        [
            f'root ::= {opening}body (" [" num "]")? "."',
            f"num ::= {numbers}",
            'body ::= [A-Za-z0-9"(] char+',
            'char ::= [^\\[\\]\\n<>.!?;] | [0-9] "." [0-9]',
        ]
    )


def clause_grammar(clauses: Sequence[Sequence[str]], verdict: str = "") -> str:
    """GBNF for a lead copied from the statements: `verdict` first when given, then one of the clauses
    of statement n (`clauses[n - 1]`) word for word, then its marker [n] and a full stop.

    The model chooses which clause answers the question; it cannot change a word of it. This is the
    local provider's second try when the sentence the model wrote is not backed by the statements.
    """
    opening = f'"{verdict}, " ' if verdict else ""
    options = [f'({" | ".join(_literal(c) for c in group)}) " [{n}]."' for n, group in enumerate(clauses, 1) if group]
    return f"root ::= {opening}(" + " | ".join(options) + ")"


def _literal(text: str) -> str:
    """A GBNF string literal: backslashes and quotes escaped, line breaks as spaces."""
    return '"' + " ".join(text.split()).replace("\\", "\\\\").replace('"', '\\"') + '"'
