"""Asset, job and schedule definitions, one module per concern."""
