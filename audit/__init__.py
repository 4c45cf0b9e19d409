"""The audit trail's operator tools: verifying the hash chain (``flask audit verify``)."""
