"""The four scenarios of issue 9; each `run(ctx)` sets up its own services and databases and returns its result."""
