"""schemathesis hooks for scripts/schemathesis.sh (loaded through the `hooks`
setting of tests/schemathesis/schemathesis.toml).

A change to a sale may carry an `idempotency-key`; the same key sent again
with another command is refused with 422 `/problems/idempotency-key-reused`,
as the IETF Idempotency-Key draft asks. Generated keys are short and collide
across operations, so a valid request could be refused for what an earlier
one did, which no schema can state. A schema-valid (positive) case therefore
gets a key of its own; negative cases keep theirs, so malformed keys are
still sent and must be refused.
"""

import uuid

import schemathesis


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    headers = case.headers
    if not headers or case.meta is None or not case.meta.generation.mode.is_positive:
        return
    for name in list(headers):
        if name.lower() == "idempotency-key":
            headers[name] = uuid.uuid4().hex
