//! Live run events over Server-Sent Events. Each event's SSE `id` is its
//! seq; a client reconnecting with `Last-Event-ID` (or `?after=`) gets
//! exactly what it missed. The stream subscribes to wakeups *before* it
//! reads, so nothing written in between is missed, and re-reads every few
//! seconds in case a wakeup was lost. It ends with an event named `end`
//! once the run is final and every event was sent.

use crate::error::{ApiError, ApiQuery, IdPath};
use crate::views::{ErrorBody, EventView, SseEvent, StreamEnd, StreamQuery};
use crate::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use opsroom_store::{DynStore, EventsListParams, RunId, Seq, Wakeup, WakeupReceiver};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

const PAGE: i64 = 500;
const FALLBACK_POLL: Duration = Duration::from_secs(2);

struct Cursor {
    store: DynStore,
    workspace_id: String,
    run_id: RunId,
    after: Seq,
    wakeups: WakeupReceiver,
    pending: VecDeque<Event>,
    done: bool,
    closing: tokio::sync::watch::Receiver<bool>,
}

/// Server-Sent Events: id = seq; honours Last-Event-ID; ends with an event named end.
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}/events/stream",
    params(
        ("id" = i64, Path, description = "The run's id"),
        StreamQuery,
        ("Last-Event-ID" = Option<i64>, Header, description = "The last seq the client has: the stream resumes after it"),
    ),
    responses(
        (status = 200, content_type = "text/event-stream", body = SseEvent,
            description = "The run's events as Server-Sent Events: each `id` is the event's seq and its `data` a RunEvent as JSON; the last event is named `end`, with `data` a StreamEnd, once the run is final. Comments keep the connection alive."),
        (status = 404, description = "No such run.", body = ErrorBody),
    )
)]
pub async fn stream(
    State(state): State<AppState>,
    axum::Extension(crate::auth::Workspace(ws)): axum::Extension<crate::auth::Workspace>,
    IdPath(id): IdPath<RunId>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let store = state.engine.store.clone();
    let wakeups = store.wakeups().subscribe();
    store.run_get(&ws, id).await?;
    let last_event_id = match headers.get("last-event-id") {
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<Seq>().ok())
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_header",
                        "Last-Event-ID must be an event seq (a whole number)",
                    )
                })?,
        ),
        None => None,
    };
    let cursor = Cursor {
        store,
        workspace_id: ws,
        run_id: id,
        after: last_event_id.or(q.after).unwrap_or_default().max(Seq(0)),
        wakeups,
        pending: VecDeque::new(),
        done: false,
        closing: state.closing.clone(),
    };
    let events = stream::unfold(cursor, |mut c| async move {
        loop {
            if let Some(e) = c.pending.pop_front() {
                return Some((Ok(e), c));
            }
            if c.done {
                return None;
            }
            if let Err(e) = c.fill().await {
                tracing::warn!(run = %c.run_id, error = %e, "event stream read failed; retrying");
                tokio::time::sleep(FALLBACK_POLL).await;
            }
            if c.pending.is_empty() && !c.done {
                c.wait().await;
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

impl Cursor {
    /// Reads what is new; marks the end once the run is final and drained.
    async fn fill(&mut self) -> Result<(), opsroom_store::StoreError> {
        // Status first: a final status is committed with the last events, so
        // if the run is final now, the read below sees every event.
        let run = self.store.run_get(&self.workspace_id, self.run_id).await?;
        let events = self
            .store
            .events_list(
                EventsListParams::new(&self.workspace_id, self.run_id, PAGE).after(self.after),
            )
            .await?;
        let full_page = events.len() as i64 == PAGE;
        for e in events {
            self.after = e.seq;
            let seq = e.seq;
            let data = serde_json::to_string(&EventView::from(e)).unwrap_or_default();
            self.pending
                .push_back(Event::default().id(seq.to_string()).data(data));
        }
        if run.status.is_final() && !full_page {
            let end = StreamEnd {
                id: run.id,
                status: run.status,
                error: run.error,
                last_seq: self.after,
            };
            let data = serde_json::to_string(&end).unwrap_or_default();
            self.pending
                .push_back(Event::default().event("end").data(data));
            self.done = true;
        }
        Ok(())
    }

    /// Until something may have changed for this run; on server shutdown
    /// the stream ends without `end`, and the client resumes by Last-Event-ID.
    async fn wait(&mut self) {
        if wait_for_run(&mut self.wakeups, self.run_id, &mut self.closing).await {
            self.done = true;
        }
    }
}

/// Waits until something may have changed for run `run_id`: a wakeup for
/// it (or for everything), or [`FALLBACK_POLL`] in case a wakeup was lost.
/// True when the server is shutting down instead. Subscribe to `wakeups`
/// before reading the run, so nothing written in between is missed.
pub(crate) async fn wait_for_run(
    wakeups: &mut WakeupReceiver,
    run_id: RunId,
    closing: &mut tokio::sync::watch::Receiver<bool>,
) -> bool {
    if *closing.borrow() {
        return true;
    }
    let deadline = tokio::time::sleep(FALLBACK_POLL);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            w = wakeups.recv() => match w {
                Some(Wakeup::Run(id)) if id == run_id => return false,
                Some(Wakeup::Everything) => return false,
                Some(_) => continue,
                // The store is gone: only the fallback poll is left.
                None => { (&mut deadline).await; return false }
            },
            _ = &mut deadline => return false,
            _ = closing.changed() => return true,
        }
    }
}
