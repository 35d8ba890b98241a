-- Seats held by confirmed sign-ups, kept on the activity instead of summed from `signups` on every read and sign-up.
-- Every change of a sign-up's confirmed seats changes it in the same transaction, under the activity's row lock:
-- a sign-up takes seats with one conditional UPDATE (which is also the lock); cancelling a confirmed sign-up gives
-- them back; a promotion from the waitlist takes them. The checks make a drifting counter fail loudly, not oversell.
ALTER TABLE activities ADD COLUMN seats_taken int NOT NULL DEFAULT 0;

UPDATE activities a SET seats_taken = s.seats
FROM (SELECT activity_id, sum(party_size)::int AS seats FROM signups WHERE status = 'confirmed' GROUP BY activity_id) s
WHERE a.id = s.activity_id;

ALTER TABLE activities ADD CONSTRAINT activities_seats_taken_check
    CHECK (seats_taken >= 0 AND (capacity IS NULL OR seats_taken <= capacity));
