"""The wire protocol: signed envelopes and typed messages. Layer L2 (imports errors, crypto, models)."""
