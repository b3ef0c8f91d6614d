"""Chat adapters: one package per platform, each a thin layer over the core."""
