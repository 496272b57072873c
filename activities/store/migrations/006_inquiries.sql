-- Doubtful orders (存疑工单, Article 7.3): the projection of each DoubtfulOrder run and its
-- timeline. Their outbox items go to notification_outbox / hotline_outbox (003), keyed by the run
-- and the item's position, with `order_no` the order asked about or 'inquiry-<inquiry_no>'.

CREATE TABLE inquiries (
    run_id          text PRIMARY KEY,           -- one row per run
    workflow_id     text NOT NULL,
    inquiry_no      text NOT NULL,
    order_no        text,                       -- the order the question concerns, if any
    unit            text NOT NULL,              -- the unit asked now (after any reassignment)
    asked_at        timestamptz NOT NULL,
    question        text NOT NULL,
    rulebook        text NOT NULL,
    phase           text NOT NULL,              -- awaiting_answer | answered
    reply_due       timestamptz NOT NULL,
    answered_at     timestamptz,
    flags           text[] NOT NULL DEFAULT '{}',
    status          jsonb NOT NULL,             -- the full InquiryStatus at `revision`
    revision        integer NOT NULL,           -- the workflow's own counter; older writes lose
    started_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inquiries_inquiry_no ON inquiries (inquiry_no);
CREATE INDEX inquiries_order_no ON inquiries (order_no) WHERE order_no IS NOT NULL;
CREATE INDEX inquiries_open ON inquiries (reply_due) WHERE phase = 'awaiting_answer';

CREATE TABLE inquiry_timeline (
    run_id      text NOT NULL REFERENCES inquiries (run_id),
    seq         integer NOT NULL,               -- position in the workflow's timeline
    inquiry_no  text NOT NULL,
    at          timestamptz NOT NULL,
    kind        text NOT NULL,
    actor       jsonb,
    detail      text NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX inquiry_timeline_inquiry_no ON inquiry_timeline (inquiry_no, at);
