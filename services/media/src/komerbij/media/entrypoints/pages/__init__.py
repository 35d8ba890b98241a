"""The comms team's pages under /media: mentions, manual entry, vendor import, feeds, outlets and the coverage
dashboard. Each page calls the same use case as its API route (`service/`), never the API itself."""
