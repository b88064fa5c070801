"""The one error type of the evaluation commands: a message for the user, never a traceback."""


class EvaluationError(ValueError):
    """A run folder, thresholds file or judge setting is unusable; the message says which and why."""
