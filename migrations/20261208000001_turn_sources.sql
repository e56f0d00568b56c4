-- The passages of the client's knowledge a turn gave its model (numbered as the prompt numbered
-- them, with document, chunk, score and whether the answer cites them), stored with the turn as
-- its tool calls are.
ALTER TABLE employee_interactions
    ADD COLUMN sources JSONB NOT NULL DEFAULT '[]'::jsonb
        CHECK (jsonb_typeof(sources) = 'array');
