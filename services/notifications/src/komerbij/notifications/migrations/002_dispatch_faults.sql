-- An attempt the relay would not even take (no connection, STARTTLS, AUTH, or our sender refused) is `deferred`: it
-- is logged and retried, but it does not count against the mail's retry schedule, nor ever make the mail fail.
ALTER TABLE delivery_attempts DROP CONSTRAINT delivery_attempts_outcome_check;
ALTER TABLE delivery_attempts ADD CONSTRAINT delivery_attempts_outcome_check
    CHECK (outcome IN ('sending', 'delivered', 'error', 'interrupted', 'skipped', 'deferred'));

-- Whose mailbox a mail goes to: a participant's or orderer's address, else the recipient key (a contact, the
-- admins). A person's mails are sent one at a time in event order; this finds the ones still open before a mail.
CREATE FUNCTION mailbox_of(recipient text, address text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN recipient IN ('participant', 'orderer') THEN lower(address) ELSE recipient END;

CREATE INDEX deliveries_open_mail_by_mailbox ON deliveries (mailbox_of(recipient, address))
    WHERE channel = 'email' AND status IN ('pending', 'sending', 'retrying');
