"""The sync engine: the webhook inbox, event jobs and (next) reconciliation."""
