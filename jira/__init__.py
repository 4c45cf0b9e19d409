"""Everything Tandem says to Jira: the call registry (and so the scopes), request
signing, and one HTTP client with time-outs, back-off and call counting."""
