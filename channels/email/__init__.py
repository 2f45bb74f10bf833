"""The email channel: an SMTP gateway process for mail in, replies out through a relay."""
