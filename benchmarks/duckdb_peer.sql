-- The DuckDB peer of `nis run`: one period of the NIS submission computed by plain DuckDB SQL over
-- the same ten case extracts, the way an analyst would write it instead of using the pipeline.
-- benchmarks/end_to_end.py times it beside `nis run` (issue 13: `nis run` within 4x of this at
-- 100,000 families, 5x at 400,000).
--
-- Parameters, set before this file runs (benchmarks/end_to_end.py does it; by hand in the duckdb
-- shell: SET VARIABLE source = '/tmp/bench/e10k'; ... then .read benchmarks/duckdb_peer.sql):
--   source          folder holding the ten NAME.csv extracts
--   out             folder the two CSVs are written to (must exist)
--   census          census date C (DATE), e.g. DATE '2026-03-31'
--   period_start    first day of the period S, e.g. DATE '2025-10-01'
--   previous_start  first day of the previous period S', e.g. DATE '2025-04-01'
--   enc_NAME        the CSV encoding of extract NAME ('utf-8' or 'latin-1'), for each of the ten
--
-- What it does, as spec sections 1-5 describe: reads all ten CSVs (every column as text), parses
-- the dates (ISO and dd/mm/yyyy) and session counts, builds the NIS and FPD cohorts and family
-- membership for the period, leaves out opted-out people, computes the status of intervention
-- and the six problems met per family as at C, every FPD measure of section 3 per person (ages,
-- event counts, attendance with half-up rounding, exclusions, social care, employment with the
-- runs of continuous employment, NEET), maps gender to CIN codes, normalises postcode, NINO and
-- UPN, and writes the individuals and FPD CSVs sorted by family then person (COPY ... TO).
--
-- What it leaves out, so it is a floor rather than an equal: validation (no row is quarantined:
-- duplicate keys, unknown codes, orphans and bad identifiers pass straight through, and an
-- unparseable date or count is just NULL), the quarantine cascade and threshold, identifier
-- check digits (NINO, UPN, NHS number, postcode formats), the validation report, the workbook,
-- the statistics file, the changes file, the manifest and its SHA-256s, the audit log, the
-- write-aside-then-move of the folder, Prefect, header matching (it assumes the contract's own
-- lower-case headers) and Windows-1252 proper (a non-UTF-8 file is read as Latin-1, which
-- differs only in bytes 0x80-0x9F). It runs on every core DuckDB sees (two here).

CREATE OR REPLACE TEMP MACRO d(s) AS
    coalesce(try_cast(s AS DATE), try_strptime(s, '%d/%m/%Y')::DATE);
CREATE OR REPLACE TEMP MACRO n(s) AS try_cast(s AS BIGINT);
CREATE OR REPLACE TEMP MACRO src(name) AS TABLE
    SELECT * FROM read_csv(
        getvariable('source') || '/' || name || '.csv',
        header = true, all_varchar = true, encoding = getvariable('enc_' || name)
    );

-- The extracts, typed ------------------------------------------------------------------------

CREATE OR REPLACE TEMP TABLE families AS
SELECT family_id, la_code, d(date_identified) AS date_identified,
       d(date_support_started) AS date_support_started, d(date_support_ended) AS date_support_ended,
       status, claim_type, d(claim_date) AS claim_date
FROM src('families');

CREATE OR REPLACE TEMP TABLE people AS
SELECT person_id, family_id, role, forename, surname, d(dob) AS dob,
       d(expected_dob) AS expected_dob,
       CASE upper(trim(gender))
           WHEN 'M' THEN '1' WHEN 'MALE' THEN '1' WHEN 'F' THEN '2' WHEN 'FEMALE' THEN '2'
           WHEN 'X' THEN '9' WHEN 'U' THEN '0' END AS gender,
       nullif(upper(replace(postcode, ' ', '')), '') AS postcode_compact,
       nullif(upper(replace(nino, ' ', '')), '') AS nino,
       nullif(upper(replace(upn, ' ', '')), '') AS upn,
       d(date_joined) AS date_joined, d(date_left) AS date_left,
       coalesce(n(nis_opt_out), 0) AS nis_opt_out
FROM src('people');

-- The cohorts and membership (section 1), status of intervention (section 4) -----------------

CREATE OR REPLACE TEMP TABLE nis_families AS
SELECT family_id, la_code, date_identified,
       CASE WHEN date_support_started <= getvariable('census') THEN date_support_started END
           AS date_support_started,
       CASE WHEN date_support_ended <= getvariable('census') THEN date_support_ended END
           AS date_support_ended,
       CASE
           WHEN status IN ('DECLINED', 'NOT_ELIGIBLE') THEN status
           WHEN date_support_started IS NULL OR date_support_started > getvariable('census')
               THEN 'IDENTIFIED'
           WHEN date_support_ended IS NULL OR date_support_ended > getvariable('census')
               THEN 'ATTACHED'
           WHEN claim_date <= getvariable('census') AND claim_type = 'SSP' THEN 'CLAIMED_SSP'
           WHEN claim_date <= getvariable('census') AND claim_type = 'CE' THEN 'CLAIMED_CE'
           ELSE 'CLOSED'
       END AS intervention_status,
       coalesce(date_support_started <= getvariable('census'), false) AS in_fpd
FROM families
WHERE date_identified <= getvariable('census')
  AND (date_support_ended IS NULL OR date_support_ended >= getvariable('previous_start'))
  AND status <> 'NOT_ELIGIBLE';

CREATE OR REPLACE TEMP TABLE members AS
SELECT p.*, f.la_code, f.in_fpd
FROM people AS p
JOIN nis_families AS f USING (family_id)
WHERE (p.date_joined IS NULL OR p.date_joined <= getvariable('census'))
  AND (p.date_left IS NULL OR p.date_left >= getvariable('period_start'))
  AND p.nis_opt_out <> 1;

-- Individuals (sections 4 and 5) ---------------------------------------------------------------

COPY (
    WITH problems AS (
        SELECT family_id,
               max((problem = 'CRIME_ASB')::INT) AS p_crime_asb,
               max((problem = 'EDUCATION')::INT) AS p_education,
               max((problem = 'CHILDREN_NEED_HELP')::INT) AS p_children_need_help,
               max((problem = 'WORKLESSNESS')::INT) AS p_worklessness,
               max((problem = 'DOMESTIC_ABUSE')::INT) AS p_domestic_abuse,
               max((problem = 'HEALTH')::INT) AS p_health
        FROM src('eligibility')
        WHERE d(date_met) <= getvariable('census')
        GROUP BY family_id
    )
    SELECT m.la_code, getvariable('census') AS census_date, m.family_id, m.person_id, m.role,
           m.forename, m.surname, m.dob, m.expected_dob, m.gender,
           CASE WHEN length(m.postcode_compact) > 3
               THEN left(m.postcode_compact, length(m.postcode_compact) - 3) || ' '
                   || right(m.postcode_compact, 3)
               ELSE m.postcode_compact END AS postcode,
           m.nino, m.upn, f.intervention_status, f.date_identified, f.date_support_started,
           f.date_support_ended,
           coalesce(pr.p_crime_asb, 0) AS p_crime_asb,
           coalesce(pr.p_education, 0) AS p_education,
           coalesce(pr.p_children_need_help, 0) AS p_children_need_help,
           coalesce(pr.p_worklessness, 0) AS p_worklessness,
           coalesce(pr.p_domestic_abuse, 0) AS p_domestic_abuse,
           coalesce(pr.p_health, 0) AS p_health
    FROM members AS m
    JOIN nis_families AS f USING (family_id)
    LEFT JOIN problems AS pr USING (family_id)
    ORDER BY m.family_id, m.person_id
) TO (getvariable('out') || '/individuals.csv') (HEADER, DELIMITER ',');

-- Family Progress Data (section 3) ------------------------------------------------------------

CREATE OR REPLACE TEMP TABLE fpd_people AS
SELECT la_code, family_id, person_id, role,
       CASE WHEN role <> 'UNBORN' AND dob <= getvariable('census') THEN
           year(getvariable('census')) - year(dob)
           - (month(dob) * 100 + day(dob)
              > month(getvariable('census')) * 100 + day(getvariable('census')))::INT
       END AS age_at_census
FROM members
WHERE in_fpd;

COPY (
    WITH
    offences AS (
        SELECT person_id, count(*) AS proven_offences FROM src('offences')
        WHERE d(offence_date) BETWEEN getvariable('period_start') AND getvariable('census')
        GROUP BY person_id
    ),
    asb AS (
        SELECT person_id, count(*) AS asb_incidents FROM src('asb_incidents')
        WHERE d(incident_date) BETWEEN getvariable('period_start') AND getvariable('census')
        GROUP BY person_id
    ),
    da AS (
        SELECT family_id, person_id FROM src('domestic_abuse_incidents')
        WHERE d(incident_date) BETWEEN getvariable('period_start') AND getvariable('census')
    ),
    da_person AS (
        SELECT person_id, count(*) AS da_incidents FROM da
        WHERE person_id IS NOT NULL GROUP BY person_id
    ),
    da_family AS (SELECT family_id, count(*) AS family_da_incidents FROM da GROUP BY family_id),
    attendance AS (
        SELECT person_id,
               sum(n(possible_sessions)) AS possible,
               sum(n(authorised_absence_sessions)) AS authorised,
               sum(n(unauthorised_absence_sessions)) AS unauthorised
        FROM src('school_attendance')
        WHERE d(term_end) BETWEEN getvariable('period_start') AND getvariable('census')
        GROUP BY person_id
    ),
    exclusions AS (
        SELECT person_id,
               count(*) FILTER (WHERE exclusion_type = 'SUSPENSION') AS suspensions,
               max((exclusion_type = 'PERMANENT')::INT) AS permanent_exclusion
        FROM src('exclusions')
        WHERE d(start_date) BETWEEN getvariable('period_start') AND getvariable('census')
        GROUP BY person_id
    ),
    episodes AS (
        SELECT person_id, episode_type, d(start_date) AS start_date, d(end_date) AS end_date
        FROM src('social_care_episodes')
    ),
    social_care AS (
        SELECT person_id,
               max((episode_type = 'CIN' AND overlapping)::INT) AS cin_any,
               max((episode_type = 'CPP' AND overlapping)::INT) AS cpp_any,
               max((episode_type = 'LAC' AND overlapping)::INT) AS lac_any,
               max((episode_type = 'CIN' AND open_on_c)::INT) AS cin_at_census,
               max((episode_type = 'CPP' AND open_on_c)::INT) AS cpp_at_census,
               max((episode_type = 'LAC' AND open_on_c)::INT) AS lac_at_census
        FROM (
            SELECT person_id, episode_type,
                   start_date <= getvariable('census')
                       AND (end_date IS NULL OR end_date >= getvariable('period_start'))
                       AS overlapping,
                   start_date <= getvariable('census')
                       AND (end_date IS NULL OR end_date >= getvariable('census')) AS open_on_c
            FROM episodes
        )
        WHERE overlapping
        GROUP BY person_id
    ),
    spells AS (
        SELECT person_id, spell_type, d(start_date) AS start_date,
               coalesce(d(end_date), DATE '9999-12-31') AS end_date
        FROM src('employment_spells')
    ),
    spells_on_c AS (
        SELECT person_id,
               max((spell_type = 'OUT_OF_WORK_BENEFIT')::INT) AS out_of_work_benefit_at_census,
               max((spell_type = 'EMPLOYED')::INT) AS employed_at_census,
               max((spell_type = 'NEET')::INT) AS neet_on_c
        FROM spells
        WHERE start_date <= getvariable('census') AND end_date >= getvariable('census')
        GROUP BY person_id
    ),
    -- Runs of continuous employment: a spell starts a new run unless it starts no later than
    -- the day after the latest end of the person's earlier spells.
    employed AS (
        SELECT person_id, start_date, end_date,
               max(end_date) OVER (
                   PARTITION BY person_id ORDER BY start_date, end_date
                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
               ) AS latest_end
        FROM spells
        WHERE spell_type = 'EMPLOYED' AND start_date <= getvariable('census')
    ),
    numbered AS (
        SELECT person_id, start_date, end_date,
               sum(CASE WHEN latest_end IS NULL OR start_date > latest_end + 1 THEN 1 ELSE 0 END)
                   OVER (PARTITION BY person_id ORDER BY start_date, end_date
                         ROWS UNBOUNDED PRECEDING) AS run
        FROM employed
    ),
    runs AS (
        SELECT person_id, min(start_date) AS run_start, max(end_date) AS run_end
        FROM numbered GROUP BY person_id, run
    ),
    continuous AS (
        SELECT person_id, max((getvariable('census') - run_start + 1) // 7) AS weeks
        FROM runs
        WHERE run_start <= getvariable('census') AND run_end >= getvariable('census')
        GROUP BY person_id
    )
    SELECT p.la_code, getvariable('census') AS census_date, p.family_id, p.person_id,
           p.age_at_census,
           coalesce(o.proven_offences, 0) AS proven_offences,
           coalesce(a.asb_incidents, 0) AS asb_incidents,
           coalesce(dp.da_incidents, 0) AS da_incidents,
           coalesce(df.family_da_incidents, 0) AS family_da_incidents,
           CASE WHEN att.possible > 0 THEN
               ((2000 * (att.possible - att.authorised - att.unauthorised) + att.possible)
                // (2 * att.possible) / 10)::DECIMAL(5, 1) END AS attendance_pct,
           CASE WHEN att.possible > 0 THEN
               ((2000 * att.unauthorised + att.possible) // (2 * att.possible) / 10)::DECIMAL(5, 1)
           END AS unauthorised_absence_pct,
           CASE WHEN att.possible > 0 THEN
               (10 * (att.authorised + att.unauthorised) >= att.possible)::INT
           END AS persistent_absence,
           coalesce(e.suspensions, 0) AS suspensions,
           coalesce(e.permanent_exclusion, 0) AS permanent_exclusion,
           coalesce(sc.cin_any, 0) AS cin_any,
           coalesce(sc.cpp_any, 0) AS cpp_any,
           coalesce(sc.lac_any, 0) AS lac_any,
           coalesce(sc.cin_at_census, 0) AS cin_at_census,
           coalesce(sc.cpp_at_census, 0) AS cpp_at_census,
           coalesce(sc.lac_at_census, 0) AS lac_at_census,
           coalesce(s.out_of_work_benefit_at_census, 0) AS out_of_work_benefit_at_census,
           coalesce(s.employed_at_census, 0) AS employed_at_census,
           CASE WHEN s.employed_at_census = 1 THEN coalesce(c.weeks, 0) ELSE 0 END
               AS weeks_continuous_employment,
           CASE WHEN p.age_at_census BETWEEN 16 AND 18 THEN coalesce(s.neet_on_c, 0) END
               AS neet_at_census
    FROM fpd_people AS p
    LEFT JOIN offences AS o USING (person_id)
    LEFT JOIN asb AS a USING (person_id)
    LEFT JOIN da_person AS dp USING (person_id)
    LEFT JOIN da_family AS df USING (family_id)
    LEFT JOIN attendance AS att USING (person_id)
    LEFT JOIN exclusions AS e USING (person_id)
    LEFT JOIN social_care AS sc USING (person_id)
    LEFT JOIN spells_on_c AS s USING (person_id)
    LEFT JOIN continuous AS c USING (person_id)
    ORDER BY p.family_id, p.person_id
) TO (getvariable('out') || '/fpd.csv') (HEADER, DELIMITER ',');
