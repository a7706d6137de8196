//! What the browser tests share: a real server on port 0, a chromedriver of
//! their own on a free port driving headless Chromium, polling with a
//! deadline (never fixed sleeps), screenshots and the browser console.

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use opsroom_server::client::ApiClient;
use opsroom_server::testing::{TestApp, TestAppOptions};
use opsroom_store::testing::TestStore;
use opsroom_store::RunId;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long any awaited condition may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(30);
/// Between two looks at a condition.
const POLL: Duration = Duration::from_millis(50);

/// The server under test, with its store.
pub struct Server {
    pub app: TestApp,
    pub store: TestStore,
    pub api: ApiClient,
}

impl Server {
    /// A fresh SQLite store and a real server with in-process workers.
    pub async fn start() -> Server {
        Server::start_with(None).await
    }

    /// The same with `config` instead of the demo workspace.
    pub async fn start_with(config: Option<opsroom_engine::OpsConfig>) -> Server {
        let store = TestStore::sqlite().await;
        let app = TestApp::spawn(
            store.store.clone(),
            TestAppOptions {
                workers: 2,
                config,
                ..Default::default()
            },
        )
        .await;
        let api = ApiClient::new(&app.url).expect("an API client");
        Server { app, store, api }
    }

    /// `url` + path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.app.url)
    }

    /// POSTs JSON to the API and returns the answer's JSON, checking its status.
    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(&body)).await
    }

    /// GETs JSON from the API.
    pub async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Value {
        let (status, answer) = self
            .api
            .send_json(method.clone(), &format!("/api/v1{path}"), body)
            .await
            .expect("API reachable");
        assert!(status.is_success(), "{method} {path}: {status} {answer}");
        answer
    }

    /// Follows the run's event stream to its end; returns the run.
    pub async fn wait_final(&self, id: i64) -> Value {
        let (_, end) = tokio::time::timeout(DEADLINE, self.api.wait_final(RunId(id)))
            .await
            .unwrap_or_else(|_| panic!("run {id} not final within {DEADLINE:?}"))
            .expect("the run's event stream");
        let run = self.get(&format!("/runs/{id}")).await;
        assert_eq!(run["status"], end.status.as_str());
        run
    }

    pub async fn stop(self) {
        self.app.stop().await;
        self.store.cleanup().await;
    }
}

/// A headless Chromium driven over WebDriver by its own chromedriver.
pub struct Browser {
    pub client: Client,
    driver: Child,
    port: u16,
    profile: PathBuf,
    name: String,
    shots: u32,
}

/// How the browser window is set up.
pub struct BrowserOptions {
    pub width: u32,
    pub height: u32,
    /// Makes `prefers-color-scheme: dark` match.
    pub dark: bool,
}

impl Default for BrowserOptions {
    fn default() -> Self {
        BrowserOptions {
            width: 1280,
            height: 900,
            dark: false,
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Where screenshots go: `target/screenshots/` of the workspace.
pub fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).expect("create target/screenshots");
    dir
}

impl Browser {
    /// Starts chromedriver on a free port and a fresh Chromium session;
    /// `name` prefixes this test's screenshots.
    pub async fn start(name: &str, options: BrowserOptions) -> Browser {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver on PATH (apt-get install chromium chromium-driver)");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let end = Instant::now() + DEADLINE;
        while !http
            .get(format!("{base}/status"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(Instant::now() < end, "chromedriver did not come up");
            tokio::time::sleep(POLL).await;
        }
        let profile =
            std::env::temp_dir().join(format!("opsroom-chromium-{}-{port}", std::process::id()));
        let mut args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--no-first-run".into(),
            format!("--window-size={},{}", options.width, options.height),
            format!("--user-data-dir={}", profile.display()),
        ];
        if options.dark {
            args.push("--force-dark-mode".into());
            args.push("--blink-settings=preferredColorScheme=0".into());
        }
        let mut chrome = json!({ "args": args });
        if options.width < 500 {
            // Headless windows are at least 500 px wide: emulate a phone's viewport.
            chrome["mobileEmulation"] = json!({"deviceMetrics": {
                "width": options.width, "height": options.height, "pixelRatio": 1.0}});
        }
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": chrome,
            "goog:loggingPrefs": {"browser": "ALL"},
        });
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps.as_object().cloned().unwrap_or_default())
            .connect(&base)
            .await
            .expect("a WebDriver session");
        Browser {
            client,
            driver,
            port,
            profile,
            name: name.to_string(),
            shots: 0,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    /// Runs `script` (a function body; `arguments` are `args`) and returns its value.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Polls `script` until it returns something truthy; returns that.
    pub async fn wait(&mut self, what: &str, script: &str) -> Value {
        let end = Instant::now() + DEADLINE;
        loop {
            let v = self
                .client
                .execute(script, vec![])
                .await
                .unwrap_or(Value::Null);
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return v;
            }
            if Instant::now() > end {
                self.screenshot(&format!("timeout-{}", what.replace(' ', "-")))
                    .await;
                panic!("timed out waiting for {what}: {script}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Finds one element by CSS selector.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    /// Clicks what `css` finds, finding it again while the page redraws it
    /// between the find and the click (a live page re-renders often).
    pub async fn click(&self, css: &str) {
        let end = Instant::now() + DEADLINE;
        loop {
            let clicked = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element.click().await.map(|_| ()),
                Err(e) => Err(e),
            };
            match clicked {
                Ok(()) => return,
                Err(e) if Instant::now() > end => panic!("cannot click {css}: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Saves a screenshot as target/screenshots/<test>-<n>-<label>.png.
    pub async fn screenshot(&mut self, label: &str) -> PathBuf {
        self.shots += 1;
        let png = self.client.screenshot().await.expect("screenshot");
        let path = screenshot_dir().join(format!("{}-{:02}-{label}.png", self.name, self.shots));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Browser console entries since the last call (chromedriver's log endpoint).
    pub async fn console(&self) -> Vec<Value> {
        let session = self
            .client
            .session_id()
            .await
            .ok()
            .flatten()
            .expect("session id");
        let r = reqwest::Client::new()
            .post(format!(
                "http://127.0.0.1:{}/session/{session}/se/log",
                self.port
            ))
            .json(&json!({"type": "browser"}))
            .send()
            .await
            .expect("chromedriver log endpoint");
        let v: Value = r.json().await.expect("log JSON");
        v["value"].as_array().cloned().unwrap_or_default()
    }

    /// Fails the test on any console error or warning the page caused.
    pub async fn assert_clean_console(&self) {
        self.assert_clean_console_except(&[]).await;
    }

    /// Like [`Browser::assert_clean_console`], allowing entries that contain
    /// one of `expected` (a refusal the test provoked on purpose).
    pub async fn assert_clean_console_except(&self, expected: &[&str]) {
        let bad: Vec<Value> = self
            .console()
            .await
            .into_iter()
            .filter(|e| matches!(e["level"].as_str(), Some("SEVERE") | Some("WARNING")))
            .filter(|e| {
                let m = e["message"].as_str().unwrap_or("");
                !expected.iter().any(|x| m.contains(x))
            })
            .collect();
        assert!(bad.is_empty(), "browser console has problems: {bad:#?}");
    }

    /// Ends the session (Chromium quits), then the driver.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    /// Also runs when a test fails half-way: no chromedriver is left behind.
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
