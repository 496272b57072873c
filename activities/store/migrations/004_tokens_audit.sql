-- The handler gateway (`hotline gateway`): bearer tokens and the audit log of every request.
-- A token stands for one org acting in one role; only its SHA-256 is stored, the token itself is
-- shown once at issue. Tokens are revoked, never deleted, so every audit row keeps its token.

CREATE TABLE api_tokens (
    id              bigserial PRIMARY KEY,
    org             text NOT NULL REFERENCES organisations (id),
    role            text NOT NULL CHECK (role IN ('operator', 'supervisor', 'handler', 'hotline')),
    label           text NOT NULL DEFAULT '',
    token_sha256    text NOT NULL UNIQUE CHECK (token_sha256 ~ '^[0-9a-f]{64}$'),
    issued_by       text NOT NULL CHECK (issued_by <> ''),
    issued_at       timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz,
    last_used_at    timestamptz
);
CREATE INDEX api_tokens_org ON api_tokens (org);

-- One row per request, refused ones included: who (token, org, role), what (method, path,
-- action), which order, the answer (status code, result in words), when. No request bodies: they
-- may carry a reporter's name and phone.
CREATE TABLE audit_log (
    id              bigserial PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    token_id        bigint REFERENCES api_tokens (id),    -- NULL: no token, or an unknown one
    org             text,
    role            text,
    method          text NOT NULL,
    path            text NOT NULL,
    action          text,                                 -- the contract's action or query name
    order_no        text,
    status_code     integer NOT NULL,
    result          text NOT NULL,
    request_id      text
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_order_no ON audit_log (order_no, at) WHERE order_no IS NOT NULL;
CREATE INDEX audit_log_token ON audit_log (token_id, at) WHERE token_id IS NOT NULL;
CREATE INDEX audit_log_org ON audit_log (org, at) WHERE org IS NOT NULL;
