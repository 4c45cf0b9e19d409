"""Flask blueprints, thin: parse, authorise, call a service, respond."""
