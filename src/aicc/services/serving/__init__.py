"""Services (always-on endpoints): the catalog (create, update, rollback, scale, delete, events), API keys,
and the replica runs a service owns. Named ``serving`` because ``aicc.services`` is the layer of use cases."""
