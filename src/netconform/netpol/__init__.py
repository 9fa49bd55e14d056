"""NetworkPolicy model, validation and oracle (expected matrix with explanations)."""
