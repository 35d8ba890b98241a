"""Media mentions of the week: outlets, feeds, manual and CSV entry, coverage."""
