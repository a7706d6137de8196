SELECT set_config('opsroom.token_digest', $1, true)
