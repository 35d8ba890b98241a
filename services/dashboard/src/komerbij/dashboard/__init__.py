"""The week at a glance: figures per municipality and for the country, from a read model fed by the events."""
