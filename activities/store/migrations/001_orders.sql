-- Orders: the projection of each WorkOrder run, its timeline, and the organisation directory.
-- Temporal is the source of truth for a running order; these rows are written by idempotent
-- activities and can be rebuilt from workflow state.

CREATE TABLE organisations (
    id          text PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN
                    ('platform', 'division', 'commission_unit', 'district_commission', 'city_hotline')),
    name_zh     text NOT NULL,
    active      boolean NOT NULL DEFAULT true,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE orders (
    run_id          text PRIMARY KEY,           -- one row per run: an order number can run anew
    workflow_id     text NOT NULL,
    order_no        text NOT NULL,
    tier            text NOT NULL,
    category        text NOT NULL,
    platform        text NOT NULL,
    district        text NOT NULL,
    subject         text NOT NULL,
    dispatched_at   timestamptz NOT NULL,
    rulebook        text NOT NULL,
    phase           text NOT NULL,
    outcome         text,
    confidential    boolean NOT NULL,
    reporter_name   text NOT NULL,
    reporter_phone  text NOT NULL,
    address         text NOT NULL,
    description     text NOT NULL,
    demands         text NOT NULL,
    receipt_due     timestamptz,
    completion_due  timestamptz,
    flags           text[] NOT NULL DEFAULT '{}',
    units           text[] NOT NULL DEFAULT '{}',
    status          jsonb NOT NULL,             -- the full OrderStatus at `revision`
    revision        integer NOT NULL,           -- the workflow's own counter; older writes lose
    started_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_order_no ON orders (order_no);
CREATE INDEX orders_phase ON orders (phase);
CREATE INDEX orders_dispatched_at ON orders (dispatched_at);

CREATE TABLE order_timeline (
    run_id      text NOT NULL REFERENCES orders (run_id),
    seq         integer NOT NULL,               -- position in the workflow's timeline
    order_no    text NOT NULL,
    at          timestamptz NOT NULL,
    kind        text NOT NULL,
    actor       jsonb,
    detail      text NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX order_timeline_order_no ON order_timeline (order_no, at);
