"""YouTube Live: the live chat of a broadcast, read and answered through the Data API v3."""
