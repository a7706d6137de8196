//! opsroom's workers: the claim loop, the five-phase pipeline, heartbeats,
//! rescue of runs whose worker died, and the runbooks' implementations.

pub mod clock;
pub mod completions;
pub mod config;
pub mod logs;
pub mod metrics;
pub mod notify;
pub mod pipeline;
pub mod probe;
pub mod redaction;
pub mod runbook_files;
pub mod runbooks;
pub mod stored_secrets;
pub mod worker;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::OpsConfig;
pub use worker::{WorkerOptions, WorkerPool};

use opsroom_adapters::secret::Redactor;
use opsroom_adapters::Secret;
use opsroom_core::Catalog;
use opsroom_store::DynStore;
use std::sync::Arc;

/// Everything a run needs from the outside world, cheap to clone.
#[derive(Clone)]
pub struct Engine {
    pub store: DynStore,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<OpsConfig>,
    pub catalog: Arc<Catalog>,
    pub metrics: Arc<metrics::EngineMetrics>,
    /// Where attempts end, batched across this process's runs.
    pub completions: Arc<completions::Completions>,
    /// Hides every credential the engine knows of from what runs write
    /// (see [`redaction`]).
    pub redactor: Arc<Redactor>,
    /// Opens the `secret:NAME` values runs read; `None` when no master key
    /// is configured (a run needing one then fails, saying how to set it).
    pub secret_key: Option<Arc<opsroom_auth::MasterKey>>,
}

impl Engine {
    pub fn new(store: DynStore, config: OpsConfig) -> Engine {
        Engine {
            redactor: Arc::new(redaction::config_redactor(&config)),
            store,
            clock: Arc::new(SystemClock),
            config: Arc::new(config),
            catalog: Arc::new(Catalog::builtin()),
            metrics: Arc::default(),
            completions: Arc::default(),
            secret_key: None,
        }
    }

    /// Opens stored secrets (`secret:NAME` in `opsroom.toml`) with `key`.
    pub fn with_secret_key(mut self, key: Option<opsroom_auth::MasterKey>) -> Engine {
        self.secret_key = key.map(Arc::new);
        self
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Engine {
        self.clock = clock;
        self
    }

    /// Hides this process's own credentials (its admin token, its database
    /// URL and so its password) from what runs write, besides the config's.
    pub fn with_process_secrets<S: AsRef<str>>(
        mut self,
        values: impl IntoIterator<Item = S>,
    ) -> Engine {
        let redactor = Arc::make_mut(&mut self.redactor);
        for value in values {
            redactor.add(&Secret::new(value.as_ref()));
        }
        self
    }

    /// Uses `catalog` (built-ins plus custom runbooks, e.g. from
    /// [`runbook_files::catalog_from_dir`]) instead of the built-ins alone.
    pub fn with_catalog(mut self, catalog: Catalog) -> Engine {
        self.catalog = Arc::new(catalog);
        self
    }
}
