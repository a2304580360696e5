"""Estate notifications service: renewal alerts that no owner can miss, exactly once."""
