-- Statistics facts (Articles 4.4, 4.5, 5.6, 6.4, 6.5, 13): what happened to each order run, and
-- when, flattened out of `orders.status` (the full OrderStatus) into two narrow tables, so that a
-- period's figures are one indexed scan instead of a parse of every status document.
--
-- The facts are derived data: statement-level triggers on `orders` rewrite the facts of every run
-- an INSERT or UPDATE touched, in the same transaction, so they never lag the projection and the
-- workflow's `record_order` activity stays as it is. Definitions: docs/statistics.md.

-- Events: one row per thing that happened at an instant.
CREATE TABLE order_events (
    run_id          text NOT NULL,
    kind            text NOT NULL CHECK (kind IN (
                        'received',             -- the city hotline transferred the order (dispatched_at)
                        'assigned',             -- a handling order went to a unit (lead or assisting)
                        'completed',            -- the first result (round 0) went back
                        'returned',             -- a unit returned its handling order (Art. 8.5)
                        'extension_requested',  -- a unit asked for an extension (Art. 8.6)
                        'extension_approved',   -- the city hotline approved one
                        'callback',             -- a callback verdict
                        'rehandling_opened',    -- a dissatisfied verdict opened a re-handling round
                        'appeal_filed',         -- the platform contested a dissatisfied verdict
                        'appeal_upheld')),      -- the city hotline upheld the appeal
    seq             integer NOT NULL,           -- position of the source item in its list; 0 for one-offs
    at              timestamptz NOT NULL,
    platform        text NOT NULL,
    district        text NOT NULL,
    tier            text NOT NULL,
    category        text NOT NULL,
    unit            text,                       -- the unit it counts for; NULL: no unit (the platform's)
    on_time         boolean,                    -- received, completed: deadline met in time; NULL: undecided
    hours           double precision,           -- completed: dispatched_at -> first result, wall clock
    dissatisfied    boolean,                    -- callback: the verdict was dissatisfied
    excused         boolean,                    -- callback: dissatisfied, but the appeal against it was upheld
    PRIMARY KEY (run_id, kind, seq)
);
-- A period's figures are read from this index alone (an index-only scan per kind): the period's
-- range of each kind, carrying every column the figures group by or count.
CREATE INDEX order_events_kind_at ON order_events (kind, at)
    INCLUDE (on_time, dissatisfied, excused, hours, platform, district, tier, category, unit);

-- Spans: one row per stretch of time an order was open, or behind one of its deadlines.
CREATE TABLE order_spans (
    run_id          text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('open', 'late')),
    deadline        text NOT NULL DEFAULT '',   -- late: the deadline key (`receipt`, `completion`, …)
    since           timestamptz NOT NULL,
    until           timestamptz,                -- NULL: not ended (yet)
    platform        text NOT NULL,
    district        text NOT NULL,
    tier            text NOT NULL,
    category        text NOT NULL,
    unit            text,
    PRIMARY KEY (run_id, kind, deadline),
    CHECK (until IS NULL OR until > since)
);
-- "open / late at instant T" is a containment test: T in (since, until] (at its due instant a
-- deadline is not missed yet; at the instant it is met it still was)
CREATE INDEX order_spans_during ON order_spans USING gist (tstzrange(since, until, '(]'));

-- Runs whose facts could not be derived (a status the functions below do not understand). The
-- trigger never fails the projection's write for statistics' sake: it notes the run here, and
-- `hotline stats` derives them again first, failing loudly if they still cannot be.
CREATE TABLE stats_backlog (
    run_id          text PRIMARY KEY,
    noted_at        timestamptz NOT NULL DEFAULT now(),
    error           text NOT NULL
);

-- Training materials a unit did not submit before the end of a month (Article 11). The knowledge
-- base's monthly duty fills it (one row per org and month missed); the assessment reads it.
CREATE TABLE IF NOT EXISTS training_missed (
    month           date NOT NULL CHECK (extract(day FROM month) = 1),  -- first day of the month
    org             text NOT NULL,
    PRIMARY KEY (month, org)
);

-- The lead unit an order counts for: the last lead assignment that was not returned.
CREATE FUNCTION stats_lead_unit(s jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT a ->> 'unit'
    FROM jsonb_array_elements(coalesce(s -> 'assignments', '[]')) WITH ORDINALITY AS x (a, i)
    WHERE a ->> 'role' = 'lead' AND a ->> 'state' <> 'returned'
    ORDER BY i DESC
    LIMIT 1
$$;

-- Whether a deadline was met in time: false once overdue (never forgiven) or met after its due,
-- true when met at or before it, NULL while undecided (pending, or closed unmet before its due).
CREATE FUNCTION stats_on_time(d jsonb) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN d IS NULL OR jsonb_typeof(d) <> 'object' THEN NULL
        WHEN d ->> 'overdue_since' IS NOT NULL THEN false
        WHEN d ->> 'met_at' IS NULL THEN NULL
        ELSE (d ->> 'met_at')::timestamptz <= (d ->> 'due')::timestamptz
    END
$$;

CREATE FUNCTION stats_events_of(p_run text, s jsonb) RETURNS SETOF order_events
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH o AS (
        SELECT s ->> 'platform' AS platform, s ->> 'district' AS district, s ->> 'tier' AS tier,
               s ->> 'category' AS category, stats_lead_unit(s) AS lead,
               (s ->> 'dispatched_at')::timestamptz AS dispatched, s -> 'deadlines' AS d,
               coalesce(s -> 'assignments', '[]') AS assignments,
               coalesce(s -> 'extensions', '[]') AS extensions,
               coalesce(s -> 'callbacks', '[]') AS callbacks,
               CASE WHEN jsonb_typeof(s -> 'appeal') = 'object' THEN s -> 'appeal' END AS appeal,
               s -> 'results' -> 0 AS first_result
    )
    SELECT p_run, 'received', 0, o.dispatched, o.platform, o.district, o.tier, o.category, o.lead,
           stats_on_time(o.d -> 'receipt'), NULL::float8, NULL::boolean, NULL::boolean
    FROM o
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
    SELECT p_run, 'completed', 0, (o.first_result ->> 'at')::timestamptz, o.platform, o.district,
           o.tier, o.category, o.first_result -> 'by' ->> 'org', stats_on_time(o.d -> 'completion'),
           extract(epoch FROM (o.first_result ->> 'at')::timestamptz - o.dispatched) / 3600.0,
           NULL, NULL
    FROM o
    WHERE o.first_result IS NOT NULL AND coalesce((o.first_result ->> 'round')::int, 0) = 0
    UNION ALL
    SELECT p_run, 'extension_requested', (x.i - 1)::int, (x.e ->> 'requested_at')::timestamptz,
           o.platform, o.district, o.tier, o.category, x.e -> 'by' ->> 'org', NULL, NULL, NULL, NULL
    FROM o, jsonb_array_elements(o.extensions) WITH ORDINALITY AS x (e, i)
    UNION ALL
    SELECT p_run, 'extension_approved', (x.i - 1)::int, (x.e ->> 'decided_at')::timestamptz,
           o.platform, o.district, o.tier, o.category, x.e -> 'by' ->> 'org', NULL, NULL, NULL, NULL
    FROM o, jsonb_array_elements(o.extensions) WITH ORDINALITY AS x (e, i)
    WHERE x.e ->> 'decision' = 'approved' AND x.e ->> 'decided_at' IS NOT NULL
    UNION ALL
    -- an appeal contests the verdict that opened the round it was filed in: the last one
    SELECT p_run, 'callback', (x.i - 1)::int, (x.c ->> 'at')::timestamptz, o.platform, o.district,
           o.tier, o.category, o.lead, NULL, NULL, x.c ->> 'verdict' = 'dissatisfied',
           x.c ->> 'verdict' = 'dissatisfied' AND x.i = jsonb_array_length(o.callbacks)
               AND coalesce(o.appeal ->> 'upheld' = 'true', false)
    FROM o, jsonb_array_elements(o.callbacks) WITH ORDINALITY AS x (c, i)
    UNION ALL
    SELECT p_run, 'rehandling_opened', substr(x.k, 12)::int, (x.v ->> 'start')::timestamptz,
           o.platform, o.district, o.tier, o.category, o.lead, NULL, NULL, NULL, NULL
    FROM o, jsonb_each(coalesce(o.d, '{}')) AS x (k, v)
    WHERE x.k ~ '^rehandling_[0-9]+$'
    UNION ALL
    SELECT p_run, 'appeal_filed', 0, (o.appeal ->> 'filed_at')::timestamptz, o.platform,
           o.district, o.tier, o.category, o.lead, NULL, NULL, NULL, NULL
    FROM o
    WHERE o.appeal IS NOT NULL
    UNION ALL
    SELECT p_run, 'appeal_upheld', 0, (o.appeal ->> 'decided_at')::timestamptz, o.platform,
           o.district, o.tier, o.category, o.lead, NULL, NULL, NULL, NULL
    FROM o
    WHERE o.appeal ->> 'upheld' = 'true' AND o.appeal ->> 'decided_at' IS NOT NULL
$$;

-- Open: from dispatch to close. Late: for each deadline that counts (not the 8-hour return right,
-- not the callback wait), from when it was overdue (or its due) until it was met or stopped
-- mattering; a pending deadline's span starts at its due and has no end, so "late at T" needs no
-- clock here. Receipt is the platform's duty: its lateness counts for no unit.
CREATE FUNCTION stats_spans_of(p_run text, s jsonb) RETURNS SETOF order_spans
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH o AS (
        SELECT s ->> 'platform' AS platform, s ->> 'district' AS district, s ->> 'tier' AS tier,
               s ->> 'category' AS category, stats_lead_unit(s) AS lead,
               (s ->> 'dispatched_at')::timestamptz AS dispatched,
               (s ->> 'closed_at')::timestamptz AS closed, coalesce(s -> 'deadlines', '{}') AS d
    )
    SELECT p_run, 'open', '', o.dispatched, o.closed, o.platform, o.district, o.tier, o.category, o.lead
    FROM o
    WHERE o.closed IS NULL OR o.closed > o.dispatched
    UNION ALL
    SELECT p_run, 'late', x.k, y.since, y.until, o.platform, o.district, o.tier, o.category,
           CASE WHEN x.k = 'receipt' THEN NULL ELSE o.lead END
    FROM o, jsonb_each(o.d) AS x (k, v),
         LATERAL (SELECT coalesce((x.v ->> 'overdue_since')::timestamptz, (x.v ->> 'due')::timestamptz) AS since,
                         coalesce((x.v ->> 'met_at')::timestamptz, (x.v ->> 'closed_at')::timestamptz) AS until) y
    WHERE coalesce((x.v ->> 'late_counts')::boolean, true)
      AND x.k NOT LIKE 'return:%' AND x.k NOT LIKE 'callback%'
      AND (y.until IS NULL OR y.until > y.since)
$$;

-- Derive the facts of the given runs again from the projection (updates, the backlog, repairs).
CREATE FUNCTION stats_rederive(p_runs text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM order_events WHERE run_id = ANY (p_runs);
    DELETE FROM order_spans WHERE run_id = ANY (p_runs);
    INSERT INTO order_events
    SELECT f.* FROM orders o, stats_events_of(o.run_id, o.status) f WHERE o.run_id = ANY (p_runs);
    INSERT INTO order_spans
    SELECT f.* FROM orders o, stats_spans_of(o.run_id, o.status) f WHERE o.run_id = ANY (p_runs);
    DELETE FROM stats_backlog WHERE run_id = ANY (p_runs);
END
$$;

-- Rewrite the facts of the runs a statement touched: new runs (transition table `changed`), runs
-- whose status changed (`changed` against `previous`: an update of other columns costs nothing),
-- deleted runs (`previous`).
CREATE FUNCTION stats_orders_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO order_events SELECT f.* FROM changed c, stats_events_of(c.run_id, c.status) f;
            INSERT INTO order_spans SELECT f.* FROM changed c, stats_spans_of(c.run_id, c.status) f;
        ELSIF TG_OP = 'UPDATE' THEN
            PERFORM stats_rederive(ARRAY(
                SELECT c.run_id FROM changed c JOIN previous p USING (run_id)
                WHERE c.status IS DISTINCT FROM p.status));
        ELSE
            PERFORM stats_rederive(ARRAY(SELECT run_id FROM previous));
        END IF;
    EXCEPTION WHEN OTHERS THEN
        -- statistics must never stop an order being recorded: note the runs, derive them later
        RAISE WARNING 'statistics facts not derived (%): %', TG_OP, SQLERRM;
        IF TG_OP = 'DELETE' THEN
            INSERT INTO stats_backlog (run_id, error) SELECT run_id, SQLERRM FROM previous
            ON CONFLICT (run_id) DO UPDATE SET noted_at = now(), error = EXCLUDED.error;
        ELSE
            INSERT INTO stats_backlog (run_id, error) SELECT run_id, SQLERRM FROM changed
            ON CONFLICT (run_id) DO UPDATE SET noted_at = now(), error = EXCLUDED.error;
        END IF;
    END;
    RETURN NULL;
END
$$;

CREATE TRIGGER orders_stats_insert AFTER INSERT ON orders
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION stats_orders_changed();
CREATE TRIGGER orders_stats_update AFTER UPDATE ON orders
    REFERENCING OLD TABLE AS previous NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION stats_orders_changed();
CREATE TRIGGER orders_stats_delete AFTER DELETE ON orders
    REFERENCING OLD TABLE AS previous FOR EACH STATEMENT EXECUTE FUNCTION stats_orders_changed();

-- The orders recorded before this migration.
INSERT INTO order_events SELECT f.* FROM orders o, stats_events_of(o.run_id, o.status) f;
INSERT INTO order_spans SELECT f.* FROM orders o, stats_spans_of(o.run_id, o.status) f;
