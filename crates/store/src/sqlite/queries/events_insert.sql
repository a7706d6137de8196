INSERT INTO run_events (run_id, seq, workspace_id, ts, level, phase, message, data) 
