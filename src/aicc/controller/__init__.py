"""The controller: one loop that turns submitted jobs into running ones and charges them.

reconcile (executor → database) → meter (ledger) → schedule (``aicc.core.scheduling``)
→ start (database → executor). Only one controller runs at a time (see ``lock``).
"""
