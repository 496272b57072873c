-- Statistics facts of lifecycle 2 (issues 10 and 11): the dispatch to units and its reminder, the
-- platform's review of results, extensions through the platform (declined, refused, forgiven,
-- ended), appeals after re-handling with their window and their wait. Migration 005's tables,
-- indexes and triggers stay as they are: this widens the kinds the tables accept, replaces the two
-- functions that flatten a status into facts, and derives every recorded run again.
-- Definitions: docs/statistics.md.
--
-- Lifecycle 1 orders (started before lifecycle 2; `status.lifecycle` missing or 1) keep every fact
-- they had: each rule below that differs says for which lifecycle it holds.

ALTER TABLE order_events DROP CONSTRAINT order_events_kind_check;
ALTER TABLE order_events ADD CONSTRAINT order_events_kind_check CHECK (kind IN (
    'received',             -- the city hotline transferred the order (dispatched_at)
    'dispatched',           -- the first approved proposal sent it to units; hours: receipt -> dispatch
    'dispatch_reminder',    -- a dispatch window passed: reminder to the platform (not lateness)
    'dispatch_escalation',  -- one more window passed: escalation to the supervising department
    'assigned',             -- a handling order went to a unit (lead or assisting)
    'returned',             -- a unit returned its handling order (Art. 8.5)
    'completed',            -- the first accepted result of the first handling (round 0)
    'result_reviewed',      -- the platform reviewed a result; on_time: within its window; hours: submission -> review
    'result_sent_back',     -- ... and sent it back to the lead unit
    'extension_requested',  -- a unit asked for an extension (Art. 8.6)
    'extension_forwarded',  -- the platform applied for it to the city hotline
    'extension_declined',   -- the platform declined it
    'extension_approved',   -- the city hotline approved one
    'extension_refused',    -- the city hotline refused one
    'extension_forgiven',   -- approved after the deadline it moved had passed: the lateness between is lifted
    'extension_ended',      -- a pending request ended undecided (a result came first, a return, the close)
    'callback',             -- a callback verdict
    'rehandling_opened',    -- a dissatisfied verdict opened a re-handling round
    'appeal_filed',         -- the platform contested a dissatisfied verdict
    'appeal_upheld',        -- the city hotline upheld the appeal
    'appeal_rejected',      -- the city hotline rejected it
    'appeal_unanswered',    -- no decision within the appeal wait: closed appeal_unanswered
    'appeal_moot'));        -- the order closed otherwise while the appeal waited (a verdict, a withdrawal)

ALTER TABLE order_spans DROP CONSTRAINT order_spans_kind_check;
ALTER TABLE order_spans ADD CONSTRAINT order_spans_kind_check CHECK (kind IN (
    'open',                 -- from the transfer to the close
    'late',                 -- behind a deadline that counts
    'appeal'));             -- an appeal waits for the city hotline's decision

CREATE OR REPLACE FUNCTION stats_events_of(p_run text, s jsonb) RETURNS SETOF order_events
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH o AS (
        SELECT s ->> 'platform' AS platform, s ->> 'district' AS district, s ->> 'tier' AS tier,
               s ->> 'category' AS category, stats_lead_unit(s) AS lead,
               coalesce((s ->> 'lifecycle')::int, 1) AS lifecycle,
               (s ->> 'dispatched_at')::timestamptz AS dispatched, coalesce(s -> 'deadlines', '{}') AS d,
               coalesce(s -> 'assignments', '[]') AS assignments,
               coalesce(s -> 'proposals', '[]') AS proposals,
               coalesce(s -> 'extensions', '[]') AS extensions,
               coalesce(s -> 'results', '[]') AS results,
               coalesce(s -> 'callbacks', '[]') AS callbacks,
               coalesce(s -> 'timeline', '[]') AS timeline,
               CASE WHEN jsonb_typeof(s -> 'appeal') = 'object' THEN s -> 'appeal' END AS appeal,
               s ->> 'outcome' AS outcome, (s ->> 'closed_at')::timestamptz AS closed,
               coalesce((s ->> 'rehandling_round')::int, 0) AS round
    )
    SELECT p_run, 'received', 0, o.dispatched, o.platform, o.district, o.tier, o.category, o.lead,
           stats_on_time(o.d -> 'receipt'), NULL::float8, NULL::boolean, NULL::boolean
    FROM o
    UNION ALL
    -- the first dispatch to units: the first approved proposal, timed from the receipt
    SELECT p_run, 'dispatched', (x.i - 1)::int, (x.p ->> 'reviewed_at')::timestamptz, o.platform,
           o.district, o.tier, o.category, x.p ->> 'lead_unit', NULL,
           extract(epoch FROM (x.p ->> 'reviewed_at')::timestamptz
                              - (o.d -> 'receipt' ->> 'met_at')::timestamptz) / 3600.0,
           NULL, NULL
    FROM o, LATERAL (
        SELECT y.p, y.i FROM jsonb_array_elements(o.proposals) WITH ORDINALITY AS y (p, i)
        WHERE y.p ->> 'approved' = 'true' AND y.p ->> 'reviewed_at' IS NOT NULL
        ORDER BY y.i LIMIT 1) x
    UNION ALL
    -- every dispatch window's reminder and escalation, from the timeline: a return opens a new
    -- window and the deadline `dispatch` keeps only the latest; the platform's, so no unit
    SELECT p_run, x.e ->> 'kind', (x.i - 1)::int, (x.e ->> 'at')::timestamptz, o.platform, o.district,
           o.tier, o.category, NULL, NULL, NULL, NULL, NULL
    FROM o, jsonb_array_elements(o.timeline) WITH ORDINALITY AS x (e, i)
    WHERE x.e ->> 'kind' IN ('dispatch_reminder', 'dispatch_escalation')
    UNION ALL
    SELECT p_run, 'assigned', (x.i - 1)::int, (x.a ->> 'dispatched_at')::timestamptz, o.platform,
           o.district, o.tier, o.category, x.a ->> 'unit', NULL, NULL, NULL, NULL
    FROM o, jsonb_array_elements(o.assignments) WITH ORDINALITY AS x (a, i)
    UNION ALL
    SELECT p_run, 'returned', (x.i - 1)::int, (x.a ->> 'ended_at')::timestamptz, o.platform,
           o.district, o.tier, o.category, x.a ->> 'unit', NULL, NULL, NULL, NULL
    FROM o, jsonb_array_elements(o.assignments) WITH ORDINALITY AS x (a, i)
    WHERE x.a ->> 'state' = 'returned' AND x.a ->> 'ended_at' IS NOT NULL
    UNION ALL
    -- the completion: lifecycle 1, the first result (it went to the city hotline as it was);
    -- lifecycle 2, the first result the platform accepted, judged (and counted) at its submission.
    -- Hours from the start of the units' clock: lifecycle 2, the dispatch to the lead that
    -- completed (the completion deadline's start); lifecycle 1, the city hotline's transfer.
    SELECT p_run, 'completed', 0, (x.r ->> 'at')::timestamptz, o.platform, o.district, o.tier,
           o.category, x.r -> 'by' ->> 'org', stats_on_time(o.d -> 'completion'),
           extract(epoch FROM (x.r ->> 'at')::timestamptz
                              - CASE WHEN o.lifecycle >= 2 THEN (o.d -> 'completion' ->> 'start')::timestamptz
                                     ELSE o.dispatched END) / 3600.0,
           NULL, NULL
    FROM o, LATERAL (
        SELECT y.r FROM jsonb_array_elements(o.results) WITH ORDINALITY AS y (r, i)
        WHERE coalesce((y.r ->> 'round')::int, 0) = 0 AND (o.lifecycle < 2 OR y.r ->> 'approved' = 'true')
        ORDER BY y.i LIMIT 1) x
    UNION ALL
    -- the platform's review of each result (lifecycle 2): deadline result_review_<n> for the n-th result
    SELECT p_run, 'result_reviewed', (x.i - 1)::int, (x.r ->> 'reviewed_at')::timestamptz, o.platform,
           o.district, o.tier, o.category, x.r -> 'by' ->> 'org', stats_on_time(o.d -> ('result_review_' || x.i)),
           extract(epoch FROM (x.r ->> 'reviewed_at')::timestamptz - (x.r ->> 'at')::timestamptz) / 3600.0,
           NULL, NULL
    FROM o, jsonb_array_elements(o.results) WITH ORDINALITY AS x (r, i)
    WHERE x.r ->> 'reviewed_at' IS NOT NULL
    UNION ALL
    SELECT p_run, 'result_sent_back', (x.i - 1)::int, (x.r ->> 'reviewed_at')::timestamptz, o.platform,
           o.district, o.tier, o.category, x.r -> 'by' ->> 'org', NULL, NULL, NULL, NULL
    FROM o, jsonb_array_elements(o.results) WITH ORDINALITY AS x (r, i)
    WHERE x.r ->> 'approved' = 'false' AND x.r ->> 'reviewed_at' IS NOT NULL
    UNION ALL
    -- extensions, each for the unit that asked, at the instant of each step
    SELECT p_run, y.kind, (x.i - 1)::int, y.at, o.platform, o.district, o.tier, o.category,
           x.e -> 'by' ->> 'org', NULL, NULL, NULL, NULL
    FROM o, jsonb_array_elements(o.extensions) WITH ORDINALITY AS x (e, i),
         LATERAL (VALUES
            ('extension_requested', (x.e ->> 'requested_at')::timestamptz, true),
            ('extension_forwarded', (x.e ->> 'forwarded_at')::timestamptz, true),
            ('extension_declined', (x.e ->> 'decided_at')::timestamptz, x.e ->> 'decision' = 'declined'),
            ('extension_approved', (x.e ->> 'decided_at')::timestamptz, x.e ->> 'decision' = 'approved'),
            ('extension_refused', (x.e ->> 'decided_at')::timestamptz, x.e ->> 'decision' = 'refused'),
            -- lifecycle 2: approved after the deadline it moved had passed, "as if in force all
            -- along" (lifecycle 1 never lifted a mark)
            ('extension_forgiven', (x.e ->> 'decided_at')::timestamptz,
                x.e ->> 'decision' = 'approved' AND o.lifecycle >= 2
                AND (x.e ->> 'decided_at')::timestamptz > (x.e ->> 'current_due')::timestamptz),
            ('extension_ended', (x.e ->> 'decided_at')::timestamptz, x.e ->> 'decision' IN ('ended', 'moot'))
         ) AS y (kind, at, applies)
    WHERE y.applies AND y.at IS NOT NULL
    UNION ALL
    -- an upheld appeal excuses the dissatisfied verdicts it contests: the one that opened the
    -- re-handling round it was filed in (the order's last round: no round opens after an appeal)
    -- and any given after it. Lifecycle 1: that verdict is the order's last.
    SELECT p_run, 'callback', (x.i - 1)::int, (x.c ->> 'at')::timestamptz, o.platform, o.district,
           o.tier, o.category, o.lead, NULL, NULL, x.c ->> 'verdict' = 'dissatisfied',
           x.c ->> 'verdict' = 'dissatisfied' AND coalesce(o.appeal ->> 'upheld' = 'true', false)
               AND coalesce((x.c ->> 'round')::int, 0) >= o.round - 1
    FROM o, jsonb_array_elements(o.callbacks) WITH ORDINALITY AS x (c, i)
    UNION ALL
    SELECT p_run, 'rehandling_opened', substr(x.k, 12)::int, (x.v ->> 'start')::timestamptz,
           o.platform, o.district, o.tier, o.category, o.lead, NULL, NULL, NULL, NULL
    FROM o, jsonb_each(o.d) AS x (k, v)
    WHERE x.k ~ '^rehandling_[0-9]+$'
    UNION ALL
    SELECT p_run, y.kind, 0, y.at, o.platform, o.district, o.tier, o.category, o.lead, NULL, NULL, NULL, NULL
    FROM o, LATERAL (VALUES
            ('appeal_filed', (o.appeal ->> 'filed_at')::timestamptz, true),
            ('appeal_upheld', (o.appeal ->> 'decided_at')::timestamptz, o.appeal ->> 'upheld' = 'true'),
            ('appeal_rejected', (o.appeal ->> 'decided_at')::timestamptz, o.appeal ->> 'upheld' = 'false'),
            ('appeal_unanswered', o.closed, o.appeal ->> 'upheld' IS NULL AND o.outcome = 'appeal_unanswered'),
            ('appeal_moot', o.closed, o.appeal ->> 'upheld' IS NULL AND o.outcome <> 'appeal_unanswered')
         ) AS y (kind, at, applies)
    WHERE o.appeal IS NOT NULL AND y.applies AND y.at IS NOT NULL
$$;

-- Open: from the transfer to the close. Late: for each deadline that counts (not the 8-hour return
-- right, not the callback wait, not the dispatch reminder, the appeal window or the appeal wait:
-- their `late_counts` is false), from when it was overdue (or its due) until it was met, a result
-- waited for the platform's review (the unit's clock stopped; sent back, the span runs on from the
-- overdue instant as the domain judges it), or it stopped mattering. A pending deadline's span
-- starts at its due and has no end, so "late at T" needs no clock here. Receipt and result review
-- are the platform's duties: their lateness counts for no unit. Appeal: from its filing to its
-- decision or the order's close.
CREATE OR REPLACE FUNCTION stats_spans_of(p_run text, s jsonb) RETURNS SETOF order_spans
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH o AS (
        SELECT s ->> 'platform' AS platform, s ->> 'district' AS district, s ->> 'tier' AS tier,
               s ->> 'category' AS category, stats_lead_unit(s) AS lead,
               (s ->> 'dispatched_at')::timestamptz AS dispatched,
               (s ->> 'closed_at')::timestamptz AS closed, coalesce(s -> 'deadlines', '{}') AS d,
               CASE WHEN jsonb_typeof(s -> 'appeal') = 'object' THEN s -> 'appeal' END AS appeal
    )
    SELECT p_run, 'open', '', o.dispatched, o.closed, o.platform, o.district, o.tier, o.category, o.lead
    FROM o
    WHERE o.closed IS NULL OR o.closed > o.dispatched
    UNION ALL
    SELECT p_run, 'late', x.k, y.since, y.until, o.platform, o.district, o.tier, o.category,
           CASE WHEN x.k = 'receipt' OR x.k ~ '^result_review_[0-9]+$' THEN NULL ELSE o.lead END
    FROM o, jsonb_each(o.d) AS x (k, v),
         LATERAL (SELECT coalesce((x.v ->> 'overdue_since')::timestamptz, (x.v ->> 'due')::timestamptz) AS since,
                         coalesce((x.v ->> 'met_at')::timestamptz, (x.v ->> 'paused_at')::timestamptz,
                                  (x.v ->> 'closed_at')::timestamptz) AS until) y
    WHERE coalesce((x.v ->> 'late_counts')::boolean, true)
      AND x.k NOT LIKE 'return:%' AND x.k NOT LIKE 'callback%'
      AND (y.until IS NULL OR y.until > y.since)
    UNION ALL
    SELECT p_run, 'appeal', '', y.since, y.until, o.platform, o.district, o.tier, o.category, o.lead
    FROM o, LATERAL (SELECT (o.appeal ->> 'filed_at')::timestamptz AS since,
                            coalesce((o.appeal ->> 'decided_at')::timestamptz, o.closed) AS until) y
    WHERE o.appeal IS NOT NULL AND (y.until IS NULL OR y.until > y.since)
$$;

-- The orders recorded before this migration, derived again by the new rules. A status the new
-- rules cannot read fails no migration: its run waits in stats_backlog (and `hotline stats` says so).
DO $$
DECLARE
    r record;
BEGIN
    BEGIN
        DELETE FROM order_events;
        DELETE FROM order_spans;
        INSERT INTO order_events SELECT f.* FROM orders o, stats_events_of(o.run_id, o.status) f;
        INSERT INTO order_spans SELECT f.* FROM orders o, stats_spans_of(o.run_id, o.status) f;
        DELETE FROM stats_backlog;
    EXCEPTION WHEN OTHERS THEN
        FOR r IN SELECT run_id FROM orders LOOP
            BEGIN
                PERFORM stats_rederive(ARRAY[r.run_id]);
            EXCEPTION WHEN OTHERS THEN
                INSERT INTO stats_backlog (run_id, error) VALUES (r.run_id, SQLERRM)
                ON CONFLICT (run_id) DO UPDATE SET noted_at = now(), error = EXCLUDED.error;
            END;
        END LOOP;
    END;
END
$$;
