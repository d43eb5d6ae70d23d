"""Development and test helpers (stand-in upstream servers)."""
