-- The workspace whose rows the rest of the transaction sees and writes.
SELECT set_config('opsroom.workspace', $1, true)
