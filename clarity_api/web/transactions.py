"""The unit of work: a route (or CLI command) commits once, and only here is that bent."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from clarity_api.extensions import db


@contextmanager
def commit_even_if(*errors: type[Exception]) -> Iterator[None]:
    """Keep what the block wrote when it raises one of `errors` (then let it propagate).

    For an answer that is an error but must leave a change behind: a reused refresh token
    is refused, and its login stays revoked.
    """
    try:
        yield
    except errors:
        db.session.commit()
        raise
