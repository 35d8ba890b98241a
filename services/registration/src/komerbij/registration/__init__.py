"""Activities for the Week tegen Eenzaamheid, moderation, the public agenda and sign-ups."""
