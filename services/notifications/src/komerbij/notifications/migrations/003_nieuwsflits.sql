-- The nieuwsflits: each edition media sent, and who gets it. A recipient row per (edition, contact) is made once,
-- when the edition is consumed (the primary key: a redelivered event adds nobody twice); the pace job turns rows
-- into deliveries at NEWSLETTER_MAILS_PER_SECOND, and the deliveries' own unique key (notice id, contact, channel)
-- makes one mail per contact per edition.
CREATE TABLE newsletter_editions (
    edition_id  text PRIMARY KEY,
    notice_id   text NOT NULL UNIQUE,      -- 'nieuwsflits:<edition id>': the notice and its deliveries' event_id
    total       integer NOT NULL,
    received_at timestamptz NOT NULL,
    reported    jsonb,                     -- the counts last reported (NewsletterProgress)
    finished_at timestamptz
);

CREATE TABLE newsletter_recipients (
    edition_id  text NOT NULL REFERENCES newsletter_editions (edition_id) ON DELETE CASCADE,
    contact_id  uuid NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    partner_id  text NOT NULL,
    released_at timestamptz,               -- when its delivery was made (NULL: still waiting for its turn)
    PRIMARY KEY (edition_id, contact_id)
);
CREATE INDEX newsletter_recipients_waiting ON newsletter_recipients (edition_id) WHERE released_at IS NULL;

-- The pace of all replicas together: one row, locked by whoever releases; `last_release` is up to where the
-- budget has been spent.
CREATE TABLE newsletter_pace (
    id           boolean PRIMARY KEY DEFAULT true CHECK (id),
    last_release timestamptz NOT NULL
);
