-- Public sign-up without abuse (issue 14): the organiser sets the largest party one sign-up may bring, and an e-mail
-- address or phone number holds at most one active sign-up per activity. The unique indexes are the guarantee:
-- concurrent duplicates cannot both commit, whatever the service checks before.
ALTER TABLE activities ADD COLUMN max_party_size int NOT NULL DEFAULT 4
    CHECK (max_party_size BETWEEN 1 AND 20);

-- The normalised address and number (domain.signup.email_key / phone_key); NULL once cancelled or purged, like the
-- contact details they come from.
ALTER TABLE signups ADD COLUMN email_key text, ADD COLUMN phone_key text;

-- Keys of the sign-ups already there, computed as the domain does. Of earlier duplicates only the first (in sign-up
-- order) gets its key: the others stay as they were, but no new duplicate can join them.
UPDATE signups s SET email_key = k.key
FROM (SELECT id, key, row_number() OVER (PARTITION BY activity_id, key ORDER BY seq) AS n
      FROM (SELECT id, activity_id, seq,
                   regexp_replace(lower(btrim(email)), '^([^+]*)\+.*(@[^@]*)$', '\1\2') AS key
            FROM signups WHERE status IN ('confirmed', 'waitlisted') AND email IS NOT NULL) e) k
WHERE s.id = k.id AND k.n = 1;

UPDATE signups s SET phone_key = k.key
FROM (SELECT id, key, row_number() OVER (PARTITION BY activity_id, key ORDER BY seq) AS n
      FROM (SELECT id, activity_id, seq,
                   nullif(regexp_replace(
                       CASE WHEN left(btrim(phone), 1) = '+' THEN '00' ELSE '' END
                           || regexp_replace(replace(btrim(phone), '(0)', ''), '\D', '', 'g'),
                       '^0031', '0'), '') AS key
            FROM signups WHERE status IN ('confirmed', 'waitlisted') AND phone IS NOT NULL) p) k
WHERE s.id = k.id AND k.n = 1 AND k.key IS NOT NULL;

CREATE UNIQUE INDEX signups_one_per_email ON signups (activity_id, email_key)
    WHERE status IN ('confirmed', 'waitlisted') AND email_key IS NOT NULL;
CREATE UNIQUE INDEX signups_one_per_phone ON signups (activity_id, phone_key)
    WHERE status IN ('confirmed', 'waitlisted') AND phone_key IS NOT NULL;
