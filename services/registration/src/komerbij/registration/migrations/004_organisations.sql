-- Organisations own activities, people act for them (issue 14). The owner is the organisation the registering
-- organiser acted for: the municipality (CBS code) of the token, else its national partner as 'partner:<id>'
-- (runtime.auth.Principal.organisation). Derived from the columns every activity already has, so existing rows
-- are backfilled by the column itself.
ALTER TABLE activities ADD COLUMN owner_organisation text
    GENERATED ALWAYS AS (coalesce(owner_municipality, 'partner:' || owner_partner)) STORED;
CREATE INDEX activities_owner_organisation ON activities (owner_organisation, starts_at);

-- Trust is given to a person acting for an organisation: a bare token subject may recur in another organisation.
ALTER TABLE trusted_organisers ADD COLUMN organisation text;
ALTER TABLE trusted_organisers DROP CONSTRAINT trusted_organisers_pkey;
-- Existing entries are placed where their subject registered activities, if that is one organisation. A subject
-- seen in several organisations (or none) stays unplaced (organisation NULL): listed, without effect, until a
-- moderator says which organisation is meant.
UPDATE trusted_organisers t SET organisation = o.organisation
FROM (SELECT owner_subject, min(owner_organisation) AS organisation FROM activities
      WHERE owner_organisation IS NOT NULL
      GROUP BY owner_subject HAVING count(DISTINCT owner_organisation) = 1) o
WHERE o.owner_subject = t.subject;
CREATE UNIQUE INDEX trusted_organisers_key ON trusted_organisers (organisation, subject) NULLS NOT DISTINCT;
