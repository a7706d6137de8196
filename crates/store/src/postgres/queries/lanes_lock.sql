-- Sorted, so two batches never wait on each other's lanes crosswise.
SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM UNNEST($1::text[]) AS k ORDER BY k
