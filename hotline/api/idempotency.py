"""``Idempotency-Key``: a partner's retry of a POST gets the first answer, and does the work once.

The key is claimed by inserting (token, key) with ``ON CONFLICT DO NOTHING`` in the same transaction as the
work and its stored answer, so the answer becomes visible with the work or not at all. A retry running at the
same time waits on the key (PostgreSQL's unique index; SQLite's single writer) until the first commits, then
finds its answer. A refused request (422...) stores nothing: its retry is refused again the same way.
"""

import hashlib
import re
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select, update

from hotline.api.problems import ApiProblem
from hotline.extensions import DIALECT_INSERT, db
from models.api_token import ApiIdempotency, ApiToken

#: Visible ASCII, 1 to 128 characters (a UUID fits four times).
KEY = re.compile(r"[\x21-\x7e]{1,128}")
_TABLE = ApiIdempotency.__table__


def request_hash(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\n".join((method.encode(), path.encode(), body))).hexdigest()


def claim(token: ApiToken, key: str, *, request_hash: str, now: datetime) -> ApiIdempotency | None:
    """Claim ``key`` for this request (None: go on, then :func:`store`), or the first request's stored answer.

    The same key with another request is refused (422).
    """
    if not KEY.fullmatch(key):
        raise ApiProblem(422, _("An Idempotency-Key is 1 to 128 visible ASCII characters."))
    insert = DIALECT_INSERT[db.session.get_bind().dialect.name](_TABLE).values(
        token_id=token.id, key=key, request_hash=request_hash, created_at=now
    )
    claimed = db.session.execute(
        insert.on_conflict_do_nothing(index_elements=[_TABLE.c.token_id, _TABLE.c.key]).returning(_TABLE.c.id)
    ).scalar()
    if claimed is not None:
        return None
    first = db.session.scalar(
        select(ApiIdempotency).where(ApiIdempotency.token_id == token.id, ApiIdempotency.key == key)
    )
    if first.request_hash != request_hash:
        raise ApiProblem(422, _("This Idempotency-Key was used for another request: use a new key for a new request."))
    return first


def store(token: ApiToken, key: str, *, status_code: int, body: dict) -> None:
    """Keep the answer to the request that claimed ``key``, in its transaction."""
    db.session.execute(
        update(ApiIdempotency)
        .where(ApiIdempotency.token_id == token.id, ApiIdempotency.key == key)
        .values(status_code=status_code, body=body)
    )
