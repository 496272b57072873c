-- The business calendar (Article 8.1) as versioned records: who entered which schedule, when.
-- Seeded from the chinesecalendar package for the years it knows (entered_by = 'seed'); after
-- that the database owns the data and operators enter new years with `hotline calendar import`.
-- A year's current version is its highest version (view calendar_current_versions); older
-- versions stay for the record.

CREATE TABLE IF NOT EXISTS calendar_year_versions (
    year        integer NOT NULL CHECK (year BETWEEN 1 AND 9998),
    version     integer NOT NULL CHECK (version >= 1),
    entered_by  text NOT NULL CHECK (entered_by <> ''),
    entered_at  timestamptz NOT NULL DEFAULT now(),
    source      text NOT NULL,                  -- e.g. 'chinesecalendar 1.11.0', the notice's title
    note        text NOT NULL DEFAULT '',
    replaces    integer,                        -- the version this one replaced; NULL for the first
    PRIMARY KEY (year, version),
    FOREIGN KEY (year, replaces) REFERENCES calendar_year_versions (year, version),
    CHECK ((version = 1 AND replaces IS NULL)
           OR (version > 1 AND replaces IS NOT NULL AND replaces = version - 1))
);

-- Every listed day of a version: announced days off ('holiday', weekend days inside the announced
-- range included) and make-up working days ('makeup', always a Saturday or Sunday). Days not
-- listed follow Monday-Friday.
CREATE TABLE IF NOT EXISTS calendar_days (
    year        integer NOT NULL,
    version     integer NOT NULL,
    day         date NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('holiday', 'makeup')),
    name        text NOT NULL CHECK (name <> ''),
    PRIMARY KEY (year, version, day),
    FOREIGN KEY (year, version) REFERENCES calendar_year_versions (year, version),
    CHECK (EXTRACT(YEAR FROM day) = year),
    CHECK (kind <> 'makeup' OR EXTRACT(ISODOW FROM day) IN (6, 7))
);

CREATE OR REPLACE VIEW calendar_current_versions AS
    SELECT DISTINCT ON (year) year, version, entered_by, entered_at, source, note, replaces
    FROM calendar_year_versions
    ORDER BY year, version DESC;
