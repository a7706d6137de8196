-- Enqueues in one lane commit in id order, so lane order is enqueue order.
SELECT pg_advisory_xact_lock(hashtextextended($1, 0))
