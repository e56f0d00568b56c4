-- The language an employee works in, and keyword memory that reads that language (issue #12).
--
-- * `employees.language`: an ISO 639-1 code (src/employees/language.rs lists them) or 'other'.
-- * `workforce_search_config(code)`: the text search configuration for a code — Postgres's
--   stemmer and stop words for that language, `simple` (lower-cased words, nothing dropped) for
--   'other' or a code it does not know.
-- * Each exchange keeps the configuration its words were read with (`search_config`), set from
--   its employee's language when it is stored (a BEFORE trigger, so no insert names it), and
--   `search_terms` is made with it. When an employee's language changes, its exchanges are read
--   again in the new language in the same statement (an AFTER trigger), so a search never mixes
--   two languages' stems. The runtime role may update `search_config` only.
ALTER TABLE employees ADD COLUMN language VARCHAR(16) NOT NULL DEFAULT 'en';

CREATE FUNCTION workforce_search_config(code text) RETURNS regconfig
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE code
        WHEN 'ar' THEN 'arabic'::regconfig     WHEN 'hy' THEN 'armenian'::regconfig
        WHEN 'eu' THEN 'basque'::regconfig     WHEN 'ca' THEN 'catalan'::regconfig
        WHEN 'da' THEN 'danish'::regconfig     WHEN 'nl' THEN 'dutch'::regconfig
        WHEN 'en' THEN 'english'::regconfig    WHEN 'fi' THEN 'finnish'::regconfig
        WHEN 'fr' THEN 'french'::regconfig     WHEN 'de' THEN 'german'::regconfig
        WHEN 'el' THEN 'greek'::regconfig      WHEN 'hi' THEN 'hindi'::regconfig
        WHEN 'hu' THEN 'hungarian'::regconfig  WHEN 'id' THEN 'indonesian'::regconfig
        WHEN 'ga' THEN 'irish'::regconfig      WHEN 'it' THEN 'italian'::regconfig
        WHEN 'lt' THEN 'lithuanian'::regconfig WHEN 'ne' THEN 'nepali'::regconfig
        WHEN 'no' THEN 'norwegian'::regconfig  WHEN 'pt' THEN 'portuguese'::regconfig
        WHEN 'ro' THEN 'romanian'::regconfig   WHEN 'ru' THEN 'russian'::regconfig
        WHEN 'sr' THEN 'serbian'::regconfig    WHEN 'es' THEN 'spanish'::regconfig
        WHEN 'sv' THEN 'swedish'::regconfig    WHEN 'ta' THEN 'tamil'::regconfig
        WHEN 'tr' THEN 'turkish'::regconfig    WHEN 'yi' THEN 'yiddish'::regconfig
        ELSE 'simple'::regconfig
    END;

-- The keyword vector, remade with the exchange's own configuration (every existing exchange
-- was read as English, which stays its configuration: every employee so far is 'en').
DROP INDEX idx_interactions_search_terms;
ALTER TABLE employee_interactions DROP COLUMN search_terms;
ALTER TABLE employee_interactions
    ADD COLUMN search_config regconfig NOT NULL DEFAULT 'english'::regconfig;
ALTER TABLE employee_interactions
    ADD COLUMN search_terms tsvector
        GENERATED ALWAYS AS (
            setweight(to_tsvector(search_config, message), 'A')
            || setweight(to_tsvector(search_config, prior_reply), 'B')) STORED;
CREATE INDEX idx_interactions_search_terms
    ON employee_interactions USING gin (client_id, employee_id, search_terms);

-- A new exchange is read in its employee's language. Generated columns are computed after
-- BEFORE triggers, so `search_terms` uses the configuration set here.
CREATE FUNCTION wf_interaction_search_config() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_config := coalesce(
        (SELECT workforce_search_config(e.language) FROM employees e
         WHERE e.client_id = NEW.client_id AND e.id = NEW.employee_id),
        'english'::regconfig);
    RETURN NEW;
END $$;
CREATE TRIGGER trg_interaction_search_config BEFORE INSERT ON employee_interactions
    FOR EACH ROW EXECUTE FUNCTION wf_interaction_search_config();

-- An employee's new language re-reads its exchanges (under the caller's row-level security:
-- the employee's own client). The runtime role may change that one column of an exchange and
-- nothing else: what was said stays as it was stored.
GRANT UPDATE (search_config) ON employee_interactions TO workforce_app;
CREATE FUNCTION wf_employee_language_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    UPDATE employee_interactions
    SET search_config = workforce_search_config(NEW.language)
    WHERE client_id = NEW.client_id AND employee_id = NEW.id
      AND search_config <> workforce_search_config(NEW.language);
    RETURN NULL;
END $$;
CREATE TRIGGER trg_employee_language_changed AFTER UPDATE OF language ON employees
    FOR EACH ROW WHEN (OLD.language IS DISTINCT FROM NEW.language)
    EXECUTE FUNCTION wf_employee_language_changed();
