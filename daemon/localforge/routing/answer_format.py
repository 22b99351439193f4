"""Separate a query's task from the instructions about its answer's format.

People wrap any request in instructions about the answer: "Only the words, no period.",
"Answer with a JSON list.", "Respond in lowercase.", "Keep it under 50 words.", and evaluation
harnesses in theirs ("Answer the following multiple choice question.", "The last line of your
response should be of the following format: 'Answer: $LETTER'"). Such clauses
say nothing about the task type, yet their words (write, list, words, format) are the words of
writing requests, so a bag-of-words model reads wrapped trivia as ``instruction``. The
classifier therefore reads the query without them: ``split_format`` cuts the text into
sentences and clauses, recognises the clauses that only constrain the answer, and returns the
rest. When every clause looks like a format instruction (the request *is* the instruction, or
the rules misfire), the whole text is kept. A prompt sent raw in a chat template is read
without the template's markup (``<|im_start|>user``, ``<|start_header_id|>``, ``[INST]``,
``<start_of_turn>``, Llama 3's date header): its special tokens read as code. A few-shot
prompt is read as its heading and its last question: the worked examples show the answer's
form, and their own topics are not the task's.

The same function runs in training and on the request path, so the two agree. It is a handful
of precompiled regular expressions: a few microseconds per query.
"""

from __future__ import annotations

import re

__all__ = ["FORMAT_RULES_VERSION", "is_format_clause", "split_format"]

FORMAT_RULES_VERSION = 3  # recorded in the artifact; bump when the rules change

# Chat-template markup: special tokens with the role names they frame, and the date header
# Llama 3's template writes into every system turn.
_TEMPLATE = re.compile(
    r"(?:<\|start_header_id\|>[^<\n]{0,20}<\|end_header_id\|>"
    r"|<\|(?:im_start|im_end|begin_of_text|end_of_text|eot_id|endoftext|system|user|assistant|end)\|>"
    r"(?:(?<=im_start\|>)\s*(?:system|user|assistant)\b)?"
    r"|<(?:start|end)_of_turn>(?:(?<=start_of_turn>)(?:user|model)\b)?"
    r"|\[/?INST\]|<</?SYS>>|</?s>"
    r"|^Cutting Knowledge Date: [^\n]{0,30}$|^Today Date: [^\n]{0,30}$)[ \t]*",
    re.MULTILINE,
)
# Only a prompt that opens with a template is read without it: a question about a tokenizer's
# <|endoftext|> keeps its words.
_TEMPLATE_START = re.compile(
    r"\s*(?:<s>\s*)?(?:<\|(?:im_start|begin_of_text|start_header_id|system|user)\|>|"
    r"<start_of_turn>|\[INST\])"
)
# A few-shot prompt: worked examples, each a question and its answer, then the question asked,
# with an empty answer slot. The examples show how to answer; the last question is the task.
_QUESTION_LINE = re.compile(r"^(?:q|question|problem|input|query|user)\s*\d*\s*:", re.I | re.M)
_ANSWER_LINE = re.compile(
    r"^(?:a|answer|solution|output|response|assistant)\s*\d*\s*:[ \t]*(\S?)", re.I | re.M
)
_PARAGRAPH_END = re.compile(r"\n[ \t]*\n")

# Sentence ends, line breaks and semicolons; a comma or colon only where a format clause follows
# ("What is the capital of Peru, answer in one word") or precedes ("In one word: ...").
_CLAUSE_SPLIT = re.compile(
    r"(?<=[.!?])\s+|\n+|;\s*"
    r"|,\s+(?=(?:please\s+)?(?:answer|respond|reply|output|return|format|give only|just|only|"
    r"no\s|without|in (?:one|a single|\d+) words?|lowercase|all caps|digits|numerals)\b)",
    re.IGNORECASE,
)
_LEAD_COLON = re.compile(r"^([^:,\n{}\"'<>\[\]]{3,60})[:,]\s+(?=\S)")
_FILLER = re.compile(
    r"^(?:please|pls|and|also|then|but|kindly|oh and|remember to|be sure to)[,\s]+", re.IGNORECASE
)

# Words that only ever describe an answer's form, and words that do so next to an answer verb.
_STRONG = (
    r"json|yaml|xml|csv|markdown|latex|html tags?|bullets?|bullet points?|lower ?case|upper ?case|"
    r"capital letters|capitals|caps|title case|periods?|full stops?|commas?|punctuation|quotes|"
    r"quotation marks?|asterisks?|backticks?|brackets|tags|boxe?d?|formatting|emojis?|hashtags?|"
    r"code blocks?|fenced|plain text|explanations?|prose|commentary|preamble|intro|introduction|"
    r"headings?|words?|sentences?|paragraphs?|digits|numerals?|nothing else|nothing more|"
    r"yes or no|true or false|step by step|your (?:work|working|reasoning|steps)|"
    r"english|french|spanish|german|under \d+|at most \d+|\d+ words|concise|concisely|brief|briefly"
)
_WEAK = (
    r"lists?|tables?|lines?|characters?|letters?|tone|formats?|alone|only|just|single|exactly|"
    r"short|key|keys|object|array|string|spaces?|trailing|final answer|the answer|your answer|"
    r"integer|number|name|year|symbol|value|result|code|query|script|translation|fewer than|"
    r"less than|more than|at most|comments?"
)
# Verbs that say how to answer accept either kind of word; verbs that constrain need a strong one.
_ANSWER_VERB = re.compile(
    r"^(?:answer|respond|reply|output|return (?:only|just|the answer|your answer)|format|"
    r"present|express|state|put|wrap|enclose|"
    r"surround|give (?:only|just|me only|me just|the answer|your answer|a one|a single|it)|"
    r"provide (?:only|just|the answer|your answer|a one|a single)|"
    r"write (?:your|the answer|it|everything|only|just|no|in|using|with|without)|"
    r"the (?:final )?(?:answer|response|reply|output)|"
    r"your (?:final |whole |entire )?(?:answer|response|reply|output))\b",
    re.IGNORECASE,
)
_CONSTRAIN_VERB = re.compile(
    r"^(?:do not|don't|dont|never|no|without|avoid|keep|limit|end|start|begin|finish|"
    r"separate|use|ensure|make sure|skip|omit|return)\b",
    re.IGNORECASE,
)
_STRONG_WORDS = re.compile(rf"\b(?:{_STRONG})\b", re.IGNORECASE)
_ANY_WORDS = re.compile(rf"\b(?:{_STRONG}|{_WEAK})\b", re.IGNORECASE)
# Openings that are format clauses by themselves.
_STRICT = re.compile(
    r"^(?:final answer|single[- ]word|one[- ]word|in (?:one|a single|two|three|\d+) "
    r"(?:words?|sentences?|lines?)|(?:all )?(?:lower|upper) ?case|all caps|digits|numerals?|"
    r"plain text|bullet points?|numbered steps|(?:as|in) (?:json|yaml|xml|csv|markdown|latex|"
    r"a (?:json|yaml|bulleted|numbered) |a list|a table)|json|yaml|(?:output|answer|response) "
    r"format|format:|no more than|at most|under \d+|fewer than|less than|max(?:imum)? \d+|"
    r"be (?:brief|concise|short|succinct)|briefly|concisely|short answer|brief answer|"
    r"think step by step|let's think|let us think|show (?:your|the|all) (?:work|working|steps)|"
    r"explain your reasoning|step by step|no explanation|no prose|no need to explain|"
    r"(?:a )?(?:one|two|three)[- ](?:line|sentence|word|paragraph)s? (?:answer|reply|response)?)",
    re.IGNORECASE,
)
_SHORT = re.compile(r"^(?:only|just)\b", re.IGNORECASE)
_MAX_WORDS = 16  # a longer clause is part of the task, whatever its first words
# Evaluation harnesses frame a question and name a slot for its answer: "The last line of your
# response should be of the following format: 'Answer: $LETTER'", "put your final answer within
# \boxed{}", "End your response with 'The answer is X'", 'Format your response as follows:
# "The correct answer is (insert answer here)"'. A slot next to an answer word marks
# such a clause whatever its length (up to _MAX_SLOT_WORDS).
_SLOT = re.compile(
    r"(?-i:\$(?:LETTER|ANSWER|NUMBER|CHOICE|OPTION)S?)\b|\\boxed|"
    r"\b(?:final )?answer:\s*['\"$<(\[]|['\"](?:final )?answer:|"
    r"['\"]the (?:final )?answer is\b|\bletter (?:choice|of the (?:correct|right|best))|"
    r"\(insert (?:the |your )?(?:final )?answer here\b",
    re.IGNORECASE,
)
_SLOT_OWNER = re.compile(r"\b(?:answer|response|reply|output)\b", re.IGNORECASE)
_MAX_SLOT_WORDS = 40
# A bare multiple-choice framing says how to answer, not what about.
_FRAMING = re.compile(
    r"^(?:answer the following(?: (?:multiple[- ]choice|true[/ -]or[/ -]false|true/false|"
    r"short[- ]answer))? questions?|(?:choose|select|pick|circle|identify) (?:the )?(?:correct|"
    r"best|right|most (?:appropriate|likely)) (?:answer|option|choice|one)s?(?: (?:from|among) "
    r"the (?:\w+ )?(?:options|choices|answers)(?: (?:below|above|given))?)?|(?:choose|select|pick) "
    r"one of the (?:\w+ )?(?:options|choices|answers)(?: (?:below|above|given))?|"
    r"what is the (?:correct|right|best) answer to (?:this|the following) question|"
    r"(?:please )?reason step by step)[\s.:!]*$",
    re.IGNORECASE,
)


def _names_a_slot(text: str) -> bool:
    """Whether a clause names an answer slot (``_SLOT``) next to an answer word. Every slot holds
    a '$', a backslash, a colon, 'answer is' or 'letter', so most clauses are ruled out by
    those literals before the regular expression runs (it took half of ``split_format``)."""
    lowered = text.lower()
    if not (
        "$" in text or "\\" in text or ":" in text or "answer is" in lowered or "letter" in lowered
    ):
        return False
    return bool(_SLOT.search(text) and _SLOT_OWNER.search(text))


def is_format_clause(clause: str) -> bool:
    """Whether a clause only constrains the answer's form ("Only the year.", "Respond in JSON.")."""
    if clause[:1].isspace() or clause.startswith(('"""', "'''", "`")):
        return False  # an indented line or a docstring: code, not an instruction
    text = _FILLER.sub("", clause.strip(" \t\"'*-–—([)]"))
    if not text:
        return False
    words = len(text.split())
    if words <= _MAX_SLOT_WORDS and _names_a_slot(text):
        return True
    if words > _MAX_WORDS:
        return False
    if _FRAMING.match(text):
        return True
    if _STRICT.match(text):
        return True
    if _SHORT.match(text):  # "Only the year.", but not "Just tell me who won in 1998"
        return len(text.split()) <= 6 or bool(_STRONG_WORDS.search(text[5:]))
    if _ANSWER_VERB.match(text):
        return bool(_ANY_WORDS.search(text))
    return bool(_CONSTRAIN_VERB.match(text) and _STRONG_WORDS.search(text))


def _few_shot(text: str) -> tuple[str, str] | None:
    """(the header and the question asked, the worked examples) of a few-shot prompt, or None.

    It is one when two or more answer slots are marked ("A:", "Answer:", "Output:"), an
    earlier one is filled and the last one is empty and ends the text."""
    if not text.rstrip().endswith(":"):  # no empty slot at the end: most queries stop here
        return None
    slots = list(_ANSWER_LINE.finditer(text))
    if len(slots) < 2 or slots[-1].group(1) or text[slots[-1].end() :].strip():
        return None
    answered = [slot for slot in slots[:-1] if slot.group(1)]
    if not answered:
        return None
    # The examples end with the paragraph of the last filled answer.
    ends = _PARAGRAPH_END.search(text, answered[-1].end())
    cut = ends.end() if ends else text.find("\n", answered[-1].end()) + 1
    if cut <= 0 or cut >= slots[-1].start():
        return None
    first_question = _QUESTION_LINE.search(text)
    if first_question and first_question.start() < slots[0].start():
        header = text[: first_question.start()]
    else:  # a heading paragraph before the first example ("The following are questions about…")
        first = _PARAGRAPH_END.search(text)
        header = text[: first.start()] if first and first.end() < slots[0].start() else ""
    asked = text[cut : slots[-1].start()]
    asked = _QUESTION_LINE.sub("", asked, count=1) if _QUESTION_LINE.match(asked) else asked
    return (header.strip() + "\n" + asked.strip()).strip(), text[len(header) : cut].strip()


def split_format(text: str) -> tuple[str, str]:
    """(task, format instructions): the query without its answer-format clauses, chat
    template markup and few-shot examples, and those."""
    markup = [m.strip() for m in _TEMPLATE.findall(text)] if _TEMPLATE_START.match(text) else []
    bare = _TEMPLATE.sub("\n", text) if markup else text
    shots = _few_shot(bare)
    if shots is not None:
        bare = shots[0]
        markup.append(shots[1])
    clauses = [part for part in _CLAUSE_SPLIT.split(bare) if part and part.strip()]
    kept: list[str] = []
    dropped: list[str] = []
    for clause in clauses:
        lead = _LEAD_COLON.match(clause)
        if lead and is_format_clause(lead.group(1)):
            dropped.append(lead.group(1))
            clause = clause[lead.end() :]
        (dropped if is_format_clause(clause) else kept).append(clause)
    if not kept or not (dropped or markup):
        return text, ""
    return " ".join(kept), " ".join(markup + dropped)
