"""Channel adapters: one subpackage per channel, all of the same shape (see ``base``)."""
