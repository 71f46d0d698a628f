"""HTTP glue every blueprint shares: errors, auth, limits, headers, logging, lifecycle, parsing."""
