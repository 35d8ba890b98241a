"""What the pages call the service's codes, in Dutch (the API keeps the codes)."""

from __future__ import annotations

from komerbij.notifications.domain.partners import KINDS, SECTORS, SUBSCRIBABLE

KINDS_NL = {"municipality": "Gemeente", "national_partner": "Nationale partner", "local_coalition": "Lokale coalitie",
            "welfare": "Welzijnsorganisatie"}
EVENTS_NL = {
    "ActivityPublished": "Een nieuwe activiteit in de agenda",
    "ActivityCancelled": "Een activiteit gaat niet door",
    "MentionRecorded": "De week in de media",
    "SignupConfirmed": "Een nieuwe aanmelding voor uw eigen activiteit",
    "SignupWaitlisted": "Iemand op de wachtlijst van uw eigen activiteit",
    "SignupPromoted": "Iemand van de wachtlijst krijgt een plek",
    "SignupCancelled": "Een aanmelding voor uw eigen activiteit is geannuleerd",
    "NewsletterSent": "De nieuwsflits, de nieuwsbrief van de Week tegen Eenzaamheid",
}
# The delivery log names every event type it may show, not only the ones a partner can subscribe to.
LOGGED_EVENTS_NL = {
    **EVENTS_NL, "SignupActivityChanged": "Tijd of plaats gewijzigd", "Digest": "Dagoverzicht",
    "WebhookDisabled": "Webhook uitgeschakeld", "StockLow": "Voorraad laag", "OrderPlaced": "Bestelling ontvangen",
    "OrderConfirmed": "Bestelling bevestigd", "OrderRejected": "Bestelling afgewezen",
    "OrderPicking": "Bestelling wordt ingepakt", "OrderShipped": "Bestelling verzonden",
    "OrderDelivered": "Bestelling bezorgd", "OrderCancelled": "Bestelling geannuleerd",
}
STATUSES_NL = {"pending": "wacht", "sending": "wordt verstuurd", "retrying": "wordt opnieuw geprobeerd",
               "delivered": "afgeleverd", "failed": "mislukt", "skipped": "overgeslagen"}
CHANNELS_NL = {"email": "e-mail", "webhook": "webhook"}
RECIPIENTS_NL = {"contact": "contactpersoon", "webhook": "webhook", "participant": "deelnemer",
                 "orderer": "besteller", "admins": "beheerders"}


def mode_options(digest_time: str) -> list[tuple[str, str]]:
    return [("immediate", "Direct: een e-mail per melding"),
            ("digest", f"Eén keer per dag een overzicht (om {digest_time} uur)")]


KIND_OPTIONS = [(k, KINDS_NL[k]) for k in KINDS]
SECTOR_OPTIONS = [(s, s[:1].upper() + s[1:]) for s in SECTORS]
EVENT_OPTIONS = [(e, EVENTS_NL[e]) for e in SUBSCRIBABLE]


def recipient_nl(recipient: str) -> str:
    return RECIPIENTS_NL.get(recipient.split(":", 1)[0], recipient)
