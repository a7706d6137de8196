SELECT set_config('opsroom.workspace', $1, true)
