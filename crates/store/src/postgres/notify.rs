//! LISTEN/NOTIFY: one listener connection per process fans other
//! processes' wakeups out in this one; this process's wakeups are sent in
//! coalesced NOTIFYs.

use crate::wakeups::{Wakeup, Wakeups};
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use std::time::Duration;
use tokio::sync::mpsc;

const CHANNEL: &str = "opsroom";
/// NOTIFY payloads must stay under 8000 bytes.
const MAX_PAYLOAD: usize = 7900;

/// Receives NOTIFYs from every process and fans them out in this one.
pub(super) async fn listen_loop(pool: PgPool, wakeups: Wakeups, origin: String) {
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "event listener cannot connect; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(CHANNEL).await {
            tracing::warn!(error = %e, "LISTEN failed; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        // Anything sent while we were not listening is lost: everyone re-reads.
        wakeups.send(Wakeup::Everything);
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => {
                    for w in decode_payload(&origin, n.payload()) {
                        wakeups.send(w);
                    }
                }
                Ok(None) => {
                    tracing::warn!("event listener lost its connection; reconnecting");
                    wakeups.send(Wakeup::Everything);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "event listener failed; reconnecting");
                    break;
                }
            }
        }
    }
}

/// Sends this process's wakeups to the others, coalescing whatever piled up
/// since the last NOTIFY into as few payloads as fit.
pub(super) async fn notify_loop(
    pool: PgPool,
    mut rx: mpsc::UnboundedReceiver<Wakeup>,
    origin: String,
) {
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, 4096).await > 0 {
        for payload in encode_payloads(&origin, &batch) {
            if let Err(e) = sqlx::query(include_str!("queries/notify.sql"))
                .bind(CHANNEL)
                .bind(&payload)
                .execute(&pool)
                .await
            {
                tracing::warn!(error = %e, "NOTIFY failed; listeners fall back to polling");
            }
        }
        batch.clear();
    }
}

/// Payload format: the sender's origin tag, `:`, then `q` (runs
/// available), `*` (everything) or run ids, comma separated.
fn encode_payloads(origin: &str, batch: &[Wakeup]) -> Vec<String> {
    let mut ids: Vec<i64> = batch
        .iter()
        .filter_map(|w| match w {
            Wakeup::Run(id) => Some(id.0),
            _ => None,
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut parts: Vec<String> = Vec::new();
    if batch.contains(&Wakeup::Everything) {
        parts.push("*".into());
    }
    if batch.contains(&Wakeup::RunsAvailable) {
        parts.push("q".into());
    }
    parts.extend(ids.iter().map(i64::to_string));
    let head = format!("{origin}:");
    let mut payloads = Vec::new();
    let mut current = head.clone();
    for part in parts {
        if current.len() + part.len() + 1 > MAX_PAYLOAD {
            payloads.push(std::mem::replace(&mut current, head.clone()));
        }
        if current.len() > head.len() {
            current.push(',');
        }
        current.push_str(&part);
    }
    if current.len() > head.len() {
        payloads.push(current);
    }
    payloads
}

/// The wakeups in another store's payload; nothing for this store's own.
fn decode_payload(origin: &str, payload: &str) -> Vec<Wakeup> {
    let body = match payload.split_once(':') {
        Some((from, _)) if from == origin => return Vec::new(),
        Some((_, body)) => body,
        None => payload,
    };
    body.split(',')
        .filter_map(|part| match part {
            "q" => Some(Wakeup::RunsAvailable),
            "*" => Some(Wakeup::Everything),
            id => id.parse().ok().map(Wakeup::Run),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opsroom_core::RunId;

    #[test]
    fn payloads_round_trip_and_stay_small() {
        let mut batch: Vec<Wakeup> = (0..5000).map(|i| Wakeup::Run(RunId(i))).collect();
        batch.push(Wakeup::RunsAvailable);
        batch.push(Wakeup::Run(RunId(7)));
        let payloads = encode_payloads("a1", &batch);
        assert!(payloads.len() > 1);
        assert!(payloads.iter().all(|p| p.len() <= MAX_PAYLOAD));
        let decoded: Vec<Wakeup> = payloads
            .iter()
            .flat_map(|p| decode_payload("b2", p))
            .collect();
        assert_eq!(
            decoded
                .iter()
                .filter(|w| matches!(w, Wakeup::Run(_)))
                .count(),
            5000
        );
        assert!(decoded.contains(&Wakeup::RunsAvailable));
        assert!(
            payloads.iter().all(|p| decode_payload("a1", p).is_empty()),
            "a store ignores its own notifications"
        );
        assert_eq!(
            decode_payload("b2", &encode_payloads("a1", &[Wakeup::Everything])[0]),
            vec![Wakeup::Everything]
        );
    }
}
