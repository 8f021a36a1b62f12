//! A small W3C WebDriver client (the JSON-over-HTTP protocol), enough to drive the
//! desktop app's real window through WebKitWebDriver: what tauri-driver does on Linux,
//! without the extra proxy process. `webkitgtk:browserOptions` names our binary;
//! WebKitWebDriver starts it with automation allowed (`TAURI_WEBVIEW_AUTOMATION`).

#![allow(dead_code, unreachable_pub)]

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The W3C key code for Enter.
pub const ENTER: &str = "\u{E007}";
/// The element reference key in W3C responses.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct WebDriver {
    http: reqwest::Client,
    base: String,
}

pub struct Session {
    driver: WebDriver,
    id: String,
}

impl WebDriver {
    pub fn new(port: u16) -> Self {
        Self { http: reqwest::Client::new(), base: format!("http://127.0.0.1:{port}") }
    }

    /// Waits until the driver answers `/status`.
    pub async fn wait_ready(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(response) = self.http.get(format!("{}/status", self.base)).send().await
                && response.status().is_success()
            {
                return;
            }
            assert!(Instant::now() < deadline, "WebKitWebDriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Starts `binary` (the app) in a new session.
    pub async fn start(self, binary: &Path, args: &[&str]) -> Session {
        let capabilities = json!({
            "capabilities": {"alwaysMatch": {
                "webkitgtk:browserOptions": {"binary": binary, "args": args}
            }}
        });
        let response = self
            .http
            .post(format!("{}/session", self.base))
            .json(&capabilities)
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .expect("new session request");
        let body: Value = response.json().await.expect("new session body");
        let id = body["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {body}"))
            .to_owned();
        Session { driver: self, id }
    }
}

/// An element reference.
#[derive(Clone, Debug)]
pub struct Element(String);

impl Session {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.driver.base, self.id);
        let mut request = self.driver.http.request(method, url).timeout(Duration::from_secs(30));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("webdriver request");
        let body: Value = response.json().await.expect("webdriver body");
        body["value"].clone()
    }

    fn is_error(value: &Value) -> bool {
        value.get("error").is_some()
    }

    /// The first element matching `css`, if any.
    pub async fn find(&self, css: &str) -> Option<Element> {
        let value = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        if Self::is_error(&value) {
            return None;
        }
        value[ELEMENT].as_str().map(|id| Element(id.to_owned()))
    }

    /// Waits for an element matching `css`.
    pub async fn wait(&self, css: &str, within: Duration) -> Element {
        let deadline = Instant::now() + within;
        loop {
            if let Some(element) = self.find(css).await {
                return element;
            }
            if Instant::now() >= deadline {
                let shot = self.screenshot().await;
                let path = std::env::temp_dir().join("auraspeak-desktop-timeout.png");
                let _ = std::fs::write(&path, shot);
                panic!("no element {css:?} within {within:?} (screenshot: {})", path.display());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `script` (a function body returning a value) returns something truthy;
    /// returns that value.
    pub async fn wait_script(&self, what: &str, script: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let value = self.execute(script, json!([])).await;
            let truthy = !(value.is_null()
                || value == json!(false)
                || value == json!("")
                || Self::is_error(&value));
            if truthy {
                return value;
            }
            assert!(Instant::now() < deadline, "{what}: not within {within:?} (last: {value})");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn click(&self, element: &Element) {
        let value = self.try_click(element).await;
        assert!(!Self::is_error(&value), "click failed: {value}");
    }

    async fn try_click(&self, element: &Element) -> Value {
        self.call(reqwest::Method::POST, &format!("/element/{}/click", element.0), Some(json!({})))
            .await
    }

    /// Waits for `css` and clicks it. React may replace the element between finding and
    /// clicking (a re-render after a gateway event); then it is found again and clicked.
    pub async fn click_on(&self, css: &str, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let element = self.wait(css, deadline.saturating_duration_since(Instant::now())).await;
            let value = self.try_click(&element).await;
            let stale = value.to_string().contains("stale element reference");
            if !stale || Instant::now() >= deadline {
                assert!(!Self::is_error(&value), "click on {css:?} failed: {value}");
                return;
            }
        }
    }

    pub async fn send_keys(&self, element: &Element, text: &str) {
        let value = self
            .call(
                reqwest::Method::POST,
                &format!("/element/{}/value", element.0),
                Some(json!({"text": text})),
            )
            .await;
        assert!(!Self::is_error(&value), "send keys failed: {value}");
    }

    pub async fn execute(&self, script: &str, args: Value) -> Value {
        self.script("sync", script, args).await
    }

    /// Runs `script`, which ends by calling its last argument with the result (WebDriver's
    /// asynchronous script): for timing something inside the page with its own clock.
    pub async fn execute_async(&self, script: &str, args: Value) -> Value {
        self.script("async", script, args).await
    }

    async fn script(&self, kind: &str, script: &str, args: Value) -> Value {
        let body = json!({"script": script, "args": args});
        self.call(reqwest::Method::POST, &format!("/execute/{kind}"), Some(body)).await
    }

    /// A PNG of the window; empty if none came within 30 s.
    pub async fn screenshot(&self) -> Vec<u8> {
        self.try_screenshot(Duration::from_secs(30)).await.unwrap_or_default()
    }

    /// A PNG of the window within `within`, or `None`. WebKit answers a screenshot only
    /// after the window paints again, which a compositor may hold back for a window that
    /// another one covers.
    pub async fn try_screenshot(&self, within: Duration) -> Option<Vec<u8>> {
        use base64::Engine as _;
        let url = format!("{}/session/{}/screenshot", self.driver.base, self.id);
        let response = self.driver.http.get(url).timeout(within).send().await.ok()?;
        let body: Value = response.json().await.ok()?;
        let png = base64::engine::general_purpose::STANDARD.decode(body["value"].as_str()?).ok()?;
        png.starts_with(b"\x89PNG").then_some(png)
    }

    /// Ends the session, which closes the app.
    pub async fn close(self) {
        let url = format!("{}/session/{}", self.driver.base, self.id);
        let _ = self.driver.http.delete(url).timeout(Duration::from_secs(10)).send().await;
    }
}
