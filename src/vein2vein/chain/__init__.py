"""Chain of identity and custody: patients, orders, slots, collections, receipts, handoffs."""
