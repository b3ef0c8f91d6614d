"""Tools for a laptop, never for a real shop: the local Stripe test emulator (local mode's
payments) and the scripted demo show (`livebuy demo`)."""
