-- Outboxes (notifications to orgs, messages to the city hotline), the on-duty roster of holiday
-- breaks, and the archive of closed orders (Article 12). Rows are keyed by the order run and the
-- item's position in the order's own outbox, so a retried activity writes nothing twice.

CREATE TABLE notification_outbox (
    id              bigserial PRIMARY KEY,
    run_id          text NOT NULL,
    seq             integer NOT NULL,
    route           text NOT NULL,              -- the recipient org, or 'duty:<org>' for its on-duty contact
    order_no        text NOT NULL,
    recipient       text NOT NULL,              -- org id
    kind            text NOT NULL,
    body            text NOT NULL,
    due             timestamptz,
    event_at        timestamptz NOT NULL,       -- when it happened in the order
    duty_break      date,                       -- start of the holiday break, when routed to on-duty
    duty_contact    text,
    duty_phone      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    claimed_by      text,
    claimed_until   timestamptz,
    acked_at        timestamptz,
    UNIQUE (run_id, seq, route)
);
CREATE INDEX notification_outbox_pending ON notification_outbox (id) WHERE acked_at IS NULL;
CREATE INDEX notification_outbox_recipient ON notification_outbox (recipient, created_at);

CREATE TABLE hotline_outbox (
    id              bigserial PRIMARY KEY,
    run_id          text NOT NULL,
    seq             integer NOT NULL,
    order_no        text NOT NULL,
    kind            text NOT NULL,              -- reply, extension_application, appeal, return
    body            text NOT NULL,
    payload         jsonb NOT NULL,
    event_at        timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    claimed_by      text,
    claimed_until   timestamptz,
    acked_at        timestamptz,
    UNIQUE (run_id, seq)
);
CREATE INDEX hotline_outbox_pending ON hotline_outbox (id) WHERE acked_at IS NULL;

CREATE TABLE duty_roster (
    break_start     date NOT NULL,              -- first day of the holiday break
    break_end       date NOT NULL,
    org             text NOT NULL REFERENCES organisations (id),
    contact_name    text NOT NULL,
    contact_phone   text NOT NULL,
    entered_by      text NOT NULL,
    entered_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (break_start, org),
    CHECK (break_end >= break_start)
);

CREATE TABLE order_archive (
    run_id          text PRIMARY KEY REFERENCES orders (run_id),
    workflow_id     text NOT NULL,
    order_no        text NOT NULL,
    tier            text NOT NULL,
    category        text NOT NULL,
    platform        text NOT NULL,
    district        text NOT NULL,
    dispatched_at   timestamptz NOT NULL,
    closed_at       timestamptz NOT NULL,
    outcome         text NOT NULL,
    rulebook        text NOT NULL,
    order_data      jsonb NOT NULL,             -- the NewOrder as transferred
    deadlines       jsonb NOT NULL,             -- every deadline with its explanation and fate
    timeline        jsonb NOT NULL,
    status          jsonb NOT NULL,             -- the final OrderStatus
    archived_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_archive_order_no ON order_archive (order_no);
CREATE INDEX order_archive_closed_at ON order_archive (closed_at);
