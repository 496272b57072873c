-- The knowledge base (Article 11) and the runs of the periodic duties (reminders), so a duty
-- that runs twice for the same period sends nothing twice.

CREATE TABLE kb_submissions (
    id              bigserial PRIMARY KEY,
    org             text NOT NULL REFERENCES organisations (id),
    kind            text NOT NULL CHECK (kind IN ('regulation', 'realtime', 'hot_topic', 'training')),
    title           text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    content         text NOT NULL CHECK (length(content) >= 1),
    month           date NOT NULL CHECK (extract(day FROM month) = 1),  -- local month it counts for
    submitted_by    text NOT NULL,
    submitted_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX kb_submissions_month ON kb_submissions (kind, month, org);

CREATE TABLE duty_runs (
    duty            text NOT NULL,              -- training_reminder, training_missed, roster_reminder
    period          text NOT NULL,              -- the month or the break it ran for
    ran_at          timestamptz NOT NULL DEFAULT now(),
    detail          jsonb NOT NULL,
    PRIMARY KEY (duty, period)
);

-- The monthly bulletin as the schedule produced it (Article 13): ready to circulate.
CREATE TABLE bulletins (
    month           date PRIMARY KEY CHECK (extract(day FROM month) = 1),
    html            text NOT NULL,
    markdown        text NOT NULL,
    orders          integer NOT NULL,
    ranked          integer NOT NULL,
    generated_at    timestamptz NOT NULL DEFAULT now()
);
