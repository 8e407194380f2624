"""StackStorm's ``action-chain`` runner: a linear chain of actions, each a child execution.

``spec`` reads and checks a chain (pure), ``render`` renders its Jinja (pure), ``engine`` runs
chains durably (the chain's state is replayed from its children, whose ids are derived from
the chain and the step, so a restart carries on without running anything twice).
"""
