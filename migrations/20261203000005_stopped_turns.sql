-- A turn whose answer the person stopped while it was being written: stored as answered, with the
-- text written until then (what the person saw), and marked so the chat and the API can say so.
ALTER TABLE employee_interactions ADD COLUMN stopped BOOLEAN NOT NULL DEFAULT false;
