"""One cog per feature: buying (/buy, the Buy button, /orders, /cancel, /pass, /help),
selling (/drop, /end, /stats, /refund, /perk), cards (/card, /unlink, /link, /confirm) and
`#buy` typed as text."""
