SELECT * FROM runs WHERE workspace_id = ?1
    AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR env = ?3)
    AND (?4 IS NULL OR runbook = ?4) AND (?5 IS NULL OR id < ?5)
    AND (?6 IS NULL OR session_id = ?6)
ORDER BY id DESC LIMIT ?7
