"""Errors the executors treat by kind: a :class:`TransientError` is tried again, anything else fails
the task at once. Kept apart so that storage can raise one without importing the task machinery."""


class TransientError(Exception):
    """An error another attempt may not meet (a network failure after its own retries, say): executors
    retry the task, up to their ``max_attempts``. Any other exception fails the task at once: the same
    input would fail the same way again."""
