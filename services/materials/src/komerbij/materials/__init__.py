"""The free Kom erbij kit: catalog, stock, quotas, orders and fulfilment."""
