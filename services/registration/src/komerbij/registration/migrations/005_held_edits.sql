-- Moderation holds edits (issue 14): a change by an untrusted organiser to what the public reads of a published
-- activity waits here; the activity row keeps the approved version, which the agenda, the page and the calendars
-- show. At most one pending edit per activity: a further change replaces it (the old one becomes 'superseded'), so
-- a moderator always approves exactly the version they looked at (by its id).
CREATE TABLE activity_edits (
    id          uuid PRIMARY KEY,
    activity_id uuid NOT NULL REFERENCES activities (id),
    status      text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'superseded', 'withdrawn')),
    fields      jsonb NOT NULL, -- proposed values of the held fields, in the form the API takes them
    proposed_by text NOT NULL,
    proposed_at timestamptz NOT NULL DEFAULT now(),
    decided_by  text,
    decided_at  timestamptz,
    reason      text
);
CREATE UNIQUE INDEX activity_edits_one_pending ON activity_edits (activity_id) WHERE status = 'pending';
CREATE INDEX activity_edits_queue ON activity_edits (proposed_at) WHERE status = 'pending';
