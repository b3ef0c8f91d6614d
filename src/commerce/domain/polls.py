"""Polls: a question with 2 to 6 options, one vote per person (pure rules, stdlib only)."""

from commerce.domain.errors import InvalidInput

MIN_OPTIONS = 2
MAX_OPTIONS = 6
QUESTION_LENGTH = 200
OPTION_LENGTH = 40


def check_poll(question: str, options: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """The question and options on one line each, or InvalidInput."""
    question = " ".join(question.split())
    labels = tuple(" ".join(o.split()) for o in options)
    if not question:
        raise InvalidInput("a poll needs a question")
    if len(question) > QUESTION_LENGTH:
        raise InvalidInput(f"the question is longer than {QUESTION_LENGTH} characters")
    if not MIN_OPTIONS <= len(labels) <= MAX_OPTIONS:
        raise InvalidInput(f"a poll has {MIN_OPTIONS} to {MAX_OPTIONS} options")
    if any(not label or len(label) > OPTION_LENGTH for label in labels):
        raise InvalidInput(f"an option has 1 to {OPTION_LENGTH} characters")
    if len({label.casefold() for label in labels}) != len(labels):
        raise InvalidInput("the options must differ")
    return question, labels
