//! End to end: `report.html` from real runs of `tests/fixtures/reports/packets.toml` (a pass,
//! a P0 failure, a blocked dependent: NO_GO) and `tests/fixtures/reports/conditions.toml` (a
//! service, an accepted P1 failure, tracked scanner findings, a flaky check with its two
//! attempts: GO_WITH_CONDITIONS), first as
//! text, then checked by the consumers people feed it to: html-validate (the pinned
//! `html-validate:recommended` preset, no errors) and, in Debian's headless Chromium driven
//! through chromedriver over the W3C WebDriver HTTP protocol, axe-core (no serious or critical
//! violation).
//!
//! The browser tests need `/usr/bin/chromium` and `/usr/bin/chromedriver`
//! (`apt-get install chromium chromium-driver`; `cargo xtask gate setup --tool chromium` installs them),
//! html-validate and axe-core the pinned npm consumers of `tests/consumers`
//! (`cargo xtask gate setup --tool node-consumers`). Without them a test is
//! skipped with the install command, like every tool-dependent test, and fails instead under
//! `RELGATE_REQUIRE_TOOLS=1` (as `.ci/run` sets it); `RELGATE_SKIP_BROWSER=1` skips the browser
//! on purpose.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;
use base64::Engine as _;
use serde_json::{json, Value};

const FIXTURE: &str = "reports/packets.toml";
/// GO_WITH_CONDITIONS: the amber banner, the services section, residual risks, findings.
const CONDITIONS: &str = "reports/conditions.toml";
const FAILING: &str = "SEC-01::tenant-suite";
/// The failing check's element id (`::` is `__` in ids).
const FAILING_ID: &str = "check-SEC-01__tenant-suite";
/// The element id of the conditions gate's flaky check (fails once, `retries = 1`).
const FLAKY_ID: &str = "check-SEC-00__flaky-fetch";
const SKIP_BROWSER: &str = "RELGATE_SKIP_BROWSER";
/// The WebDriver key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

#[test]
fn report_html_is_written_from_the_run() {
    let run = gate(FIXTURE, &[]);
    assert_eq!(run.code(), 1, "{}", run.context());
    assert_eq!(run.decision(), "NO_GO");
    let html = std::fs::read_to_string(run.out.path().join("report.html")).expect("report.html");
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(
        html.contains("<p id=\"verdict\" class=\"verdict decision-no_go\">"),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            "<article class=\"check outcome-fail\" id=\"{FAILING_ID}\" data-check=\"{FAILING}\">"
        )),
        "{html}"
    );
    // The failing check's output tail is on the page, open; markup in a log is text.
    assert!(
        html.contains("FAIL: cross-tenant read returned 200\nboom\n</pre>"),
        "{html}"
    );
    assert!(
        html.contains("&lt;b&gt;not bold&lt;/b&gt; &amp; &lt;script&gt;no script"),
        "{html}"
    );
    assert!(!html.contains("<script"), "{html}");
    assert!(html.contains("class=\"check outcome-skipped\""), "{html}");
    assert!(
        html.contains("<g class=\"node status-blocked\" data-packet=\"SEC-02\""),
        "{html}"
    );
    for needle in ["src=", "http://", "https://"] {
        assert!(!html.contains(needle), "{needle} in {html}");
    }
    // The page's claims are the ledger's: the digest of the failing check's log is shown.
    let failed = run.check(FAILING);
    assert!(html.contains(failed["sha256"].as_str().unwrap()), "{html}");
    assert!(run.verify().status.success(), "{}", run.context());
}

/// A later check swaps an earlier check's log for a symlink to a file outside the out directory
/// (it finds the log directory through the recursion marker every check is given): no report
/// quotes that file. JUnit's failure text and the HTML page say the tail is unavailable.
#[test]
fn a_log_swapped_for_a_symlink_out_of_the_out_directory_is_not_quoted() {
    let dir = tempfile::tempdir().unwrap();
    let canary = "CANARY-outside-the-out-directory-7f3a";
    std::fs::write(dir.path().join("outside.txt"), format!("{canary}\n")).unwrap();
    let gate = dir.path().join("packets.toml");
    std::fs::write(
        &gate,
        r#"[gate]
name = "symlink swap"

[[packet]]
id = "SEC-00"
title = "Swap"

[[packet.check]]
id = "fails"
run = "echo the real output; exit 1"

[[packet.check]]
id = "swaps"
severity = "P2"
run = "logs=$(dirname \"$RELGATE_RECURSION_MARKER\") && ln -s \"$PWD/outside.txt\" \"$logs/fails.log.new\" && mv -f \"$logs/fails.log.new\" \"$logs/fails.log\" && test -L \"$logs/fails.log\""
"#,
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = xtask()
        .args(["gate", "--no-progress", "--jobs", "1", "--gate"])
        .arg(&gate)
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let run = Run { out, output };
    assert_eq!(run.code(), 1, "{}", run.context());
    let evidence = std::fs::read_to_string(run.out.path().join("evidence.jsonl")).unwrap();
    let swapped = evidence.lines().any(|line| {
        line.contains(r#""name":"SEC-00::swaps""#) && line.contains(r#""outcome":"pass""#)
    });
    assert!(swapped, "the swap did not happen: {evidence}");
    for report in ["junit.xml", "report.html", "tracker.md", "report.sarif"] {
        let text = std::fs::read_to_string(run.out.path().join(report)).unwrap();
        assert!(
            !text.contains(canary),
            "{report} quotes the file outside:\n{text}"
        );
    }
    let junit = std::fs::read_to_string(run.out.path().join("junit.xml")).unwrap();
    assert!(
        junit.contains("log unavailable: the path leaves the out directory"),
        "{junit}"
    );
    let html = std::fs::read_to_string(run.out.path().join("report.html")).unwrap();
    assert!(
        html.contains(
            "Output tail unavailable: path logs/SEC-00/fails.log leads outside the out directory"
        ),
        "{html}"
    );
}

#[test]
fn report_html_renders_in_headless_chromium_without_network() {
    let Some((chromium, chromedriver)) = browser() else {
        return;
    };
    // Without axe-core the page is still rendered and checked; the skip says what is missing.
    let axe = axe_source();
    let started = Instant::now();

    let run = gate(FIXTURE, &[]);
    assert_eq!(run.code(), 1, "{}", run.context());
    let page = run.out.path().join("report.html");
    assert!(page.is_file(), "{}", run.context());

    let scratch = tempfile::tempdir().unwrap();
    let driver = Driver::start(&chromedriver, scratch.path());
    let session = driver.session(&chromium, &scratch.path().join("profile"));
    session.post("url", json!({ "url": file_url(&page) }));

    let verdict = session.find("#verdict");
    assert!(session.displayed(&verdict), "the verdict is not displayed");
    let text = session.text(&verdict);
    assert!(text.contains("NO_GO"), "verdict element says {text:?}");

    let failing = session.find(&format!(
        "article.check.outcome-fail[data-check=\"{FAILING}\"]"
    ));
    assert!(
        session.displayed(&failing),
        "the failing check is not displayed"
    );
    let text = session.text(&failing);
    assert!(text.contains(FAILING), "failing check says {text:?}");
    assert!(text.contains("exit 3"), "failing check says {text:?}");
    // Its output tail is open without a click.
    let tail = session.find(&format!("[data-check=\"{FAILING}\"] pre.tail"));
    assert!(
        session.displayed(&tail),
        "the failing check's output is hidden"
    );

    let graph = session.find("svg.dag");
    assert!(
        session.displayed(&graph),
        "the packet graph is not displayed"
    );
    let nodes = session.script("return document.querySelectorAll('svg.dag g.node').length");
    assert_eq!(nodes, json!(3));

    // Nothing was fetched: no resource timing entries, no elements that would load one.
    let resources = session.script("return performance.getEntriesByType('resource').length");
    assert_eq!(resources, json!(0), "the page loaded network resources");
    let loaders = session.script(
        "return document.querySelectorAll('script, img, link, iframe, object, embed, video, \
         audio, source').length",
    );
    assert_eq!(loaders, json!(0));
    // Only now, with the page shown to fetch nothing, is axe-core injected.
    if let Some(axe) = &axe {
        assert_no_serious_axe_violations(&session, axe, FIXTURE);
    }

    let png = session.screenshot();
    let shot = run.out.path().join("report.png");
    std::fs::write(&shot, &png).unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG",
        shot.display()
    );
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert!(
        png.len() > 10_000 && width >= 800 && height >= 600,
        "{} is {} bytes, {width}x{height}: too small to show the page",
        shot.display(),
        png.len()
    );
    drop(session);
    drop(driver);
    eprintln!(
        "report.html rendered in Chromium in {:.1}s; screenshot {} ({} bytes, {width}x{height})",
        started.elapsed().as_secs_f64(),
        shot.display(),
        png.len()
    );
}

/// The report of a GO_WITH_CONDITIONS run with a service in Chromium: the amber banner and the
/// services section are shown, nothing is fetched, and axe-core finds no serious or critical
/// violation.
#[test]
fn report_html_with_conditions_and_a_service_passes_axe_in_headless_chromium() {
    let Some((chromium, chromedriver)) = browser() else {
        return;
    };
    let Some(axe) = axe_source() else {
        return;
    };
    let (_mark, run) = conditions_run();
    assert_eq!(run.code(), 0, "{}", run.context());
    assert_eq!(run.decision(), "GO_WITH_CONDITIONS", "{}", run.context());
    let page = run.out.path().join("report.html");

    let scratch = tempfile::tempdir().unwrap();
    let driver = Driver::start(&chromedriver, scratch.path());
    let session = driver.session(&chromium, &scratch.path().join("profile"));
    session.post("url", json!({ "url": file_url(&page) }));

    let verdict = session.find("#verdict.decision-go_with_conditions");
    assert!(session.displayed(&verdict), "the verdict is not displayed");
    let text = session.text(&verdict);
    assert!(
        text.contains("GO_WITH_CONDITIONS"),
        "verdict element says {text:?}"
    );
    let service = session.find("#services article.service[data-service=\"web\"]");
    assert!(session.displayed(&service), "the service is not displayed");
    let text = session.text(&service);
    assert!(text.contains("ready"), "the service says {text:?}");
    let flaky = session.find(&format!("#{FLAKY_ID}.outcome-flaky"));
    assert!(
        session.displayed(&flaky),
        "the flaky check is not displayed"
    );
    let text = session.text(&flaky);
    assert!(
        text.contains("FLAKY") && text.contains("1 of 2") && text.contains("2 of 2"),
        "the flaky check says {text:?}"
    );
    for part in [
        "#conditions table.risks",
        "table.findings",
        "table.attempts",
    ] {
        let element = session.find(part);
        assert!(session.displayed(&element), "{part} is not displayed");
    }

    let resources = session.script("return performance.getEntriesByType('resource').length");
    assert_eq!(resources, json!(0), "the page loaded network resources");
    assert_no_serious_axe_violations(&session, &axe, CONDITIONS);
}

/// html-validate 10.17.0 with its `html-validate:recommended` preset
/// (`tests/consumers/.htmlvalidate.json`) finds no error in the report of either run.
#[test]
fn report_html_has_no_html_validate_errors() {
    let Some(validator) = node_consumer("html-validate") else {
        return;
    };
    // The validator and its preset are live: a page with a table row outside a body fails.
    let scratch = tempfile::tempdir().unwrap();
    let defect = scratch.path().join("defect.html");
    std::fs::write(
        &defect,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<title>t</title>\n</head>\n<body>\n\
         <main>\n<table>\n<tr><td>x</td></tr>\n</table>\n</main>\n</body>\n</html>\n",
    )
    .unwrap();
    let output = html_validate(&validator, &defect);
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        !output.status.success() && said.contains("prefer-tbody"),
        "html-validate accepted a table row outside a body: {output:?}"
    );

    for (fixture, code, decision) in [(FIXTURE, 1, "NO_GO"), (CONDITIONS, 0, "GO_WITH_CONDITIONS")]
    {
        let (_mark, run) = match fixture {
            CONDITIONS => conditions_run(),
            _ => (tempfile::tempdir().unwrap(), gate(fixture, &[])),
        };
        assert_eq!(run.code(), code, "{}", run.context());
        assert_eq!(run.decision(), decision, "{}", run.context());
        let page = run.out.path().join("report.html");
        let output = html_validate(&validator, &page);
        assert!(
            output.status.success(),
            "html-validate finds errors in the report of {fixture} ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// A run of [`CONDITIONS`] whose flaky check fails on its first attempt only: its marker file
/// lives in the returned directory, fresh for each run.
fn conditions_run() -> (tempfile::TempDir, Run) {
    let mark = tempfile::tempdir().unwrap();
    let path = mark.path().join("flaky-fetch.ran");
    let run = gate_with_env(
        CONDITIONS,
        &[],
        &[("RELGATE_TEST_FLAKY_MARK", path.to_str().unwrap())],
    );
    let html = std::fs::read_to_string(run.out.path().join("report.html")).unwrap_or_default();
    assert!(
        html.contains(&format!(
            "<article class=\"check outcome-flaky\" id=\"{FLAKY_ID}\""
        )),
        "the flaky check is not FLAKY: {}",
        run.context()
    );
    (mark, run)
}

/// `html-validate --config tests/consumers/.htmlvalidate.json <page>`.
fn html_validate(validator: &Path, page: &Path) -> std::process::Output {
    Command::new(validator)
        .arg("--config")
        .arg(fixtures().join("../consumers/.htmlvalidate.json"))
        .arg(page)
        .output()
        .unwrap_or_else(|err| panic!("cannot run {}: {err}", validator.display()))
}

/// The pinned axe-core the browser tests inject.
const AXE_VERSION: &str = "4.14.1";

/// The source of the pinned `axe.min.js` of `tests/consumers`, or `None` after [`skip`] says
/// how to install it.
fn axe_source() -> Option<String> {
    let path = fixtures().join("../consumers/node_modules/axe-core/axe.min.js");
    match std::fs::read_to_string(&path) {
        Ok(source) => Some(source),
        Err(err) => {
            skip(&format!(
                "{} is not installed ({err}): run `cargo xtask gate setup --tool node-consumers`",
                path.display()
            ));
            None
        }
    }
}

/// Injects axe-core into the page of `session` (WebDriver's execute, which the page's
/// Content-Security-Policy does not govern) and runs `axe.run()` on the document; fails, listing
/// every violation of any impact, when one is serious or critical. Lesser ones are printed.
fn assert_no_serious_axe_violations(session: &Session, axe: &str, what: &str) {
    session.post("timeouts", json!({ "script": 120_000 }));
    let version = session.script(&format!(
        "{axe}\n;return window.axe ? window.axe.version : null;"
    ));
    assert_eq!(version, json!(AXE_VERSION), "axe-core did not load");
    let result = session.script_async(
        "const done = arguments[arguments.length - 1];
         window.axe.run(document, { resultTypes: ['violations'] })
           .then((r) => done({
             engine: r.testEngine.version,
             passes: r.passes.length,
             violations: r.violations.map((v) => ({
               id: v.id, impact: v.impact, help: v.help,
               nodes: v.nodes.map((n) => ({ target: n.target, summary: n.failureSummary })),
             })),
           }))
           .catch((e) => done({ error: String(e) }));",
    );
    assert!(
        result["error"].is_null(),
        "axe.run failed on {what}: {}",
        result["error"]
    );
    assert_eq!(result["engine"], json!(AXE_VERSION), "{result}");
    // It ran its rules: some passed.
    assert!(result["passes"].as_u64() > Some(0), "{result}");
    let violations = result["violations"].as_array().expect("violations");
    let mut listing = String::new();
    for violation in violations {
        for node in violation["nodes"].as_array().into_iter().flatten() {
            listing.push_str(&format!(
                "- {} ({}): {}\n  target {}\n  {}\n",
                violation["id"].as_str().unwrap_or("?"),
                violation["impact"].as_str().unwrap_or("no impact"),
                violation["help"].as_str().unwrap_or(""),
                node["target"],
                node["summary"].as_str().unwrap_or("").replace('\n', "\n  "),
            ));
        }
    }
    let serious = violations
        .iter()
        .filter(|violation| matches!(violation["impact"].as_str(), Some("serious" | "critical")))
        .count();
    assert_eq!(
        serious, 0,
        "axe-core {AXE_VERSION} finds serious or critical violations in the report of {what}:\n\
         {listing}"
    );
    if !listing.is_empty() {
        eprintln!("axe-core {AXE_VERSION}, minor and moderate violations in the report of {what}:\n{listing}");
    }
}

/// Chromium and chromedriver, or `None` after saying why the browser tests do not run
/// ([`skip`] when they are missing, `RELGATE_SKIP_BROWSER=1` on purpose).
fn browser() -> Option<(PathBuf, PathBuf)> {
    if std::env::var(SKIP_BROWSER).as_deref() == Ok("1") {
        eprintln!("skipped: {SKIP_BROWSER}=1");
        return None;
    }
    let (Some(chromium), Some(chromedriver)) = (tool("chromium"), tool("chromedriver")) else {
        skip(&format!(
            "chromium or chromedriver is not installed: run `cargo xtask gate setup --tool chromium` (or set {SKIP_BROWSER}=1)"
        ));
        return None;
    };
    Some((chromium, chromedriver))
}

/// The path of a browser tool, or a failure saying how to install it.
fn tool(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

/// `file:///…` for an absolute path, bytes outside the unreserved set percent-encoded.
fn file_url(path: &Path) -> String {
    let mut url = String::from("file://");
    for byte in path.to_str().expect("temp path is UTF-8").bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            url.push(byte as char);
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url
}

/// A chromedriver process on a loopback port; killed when dropped.
struct Driver {
    child: Child,
    base: String,
    agent: ureq::Agent,
}

impl Driver {
    fn start(chromedriver: &Path, scratch: &Path) -> Driver {
        // Ask the kernel for a free port, then hand it to chromedriver.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free loopback port")
            .port();
        let log = scratch.join("chromedriver.log");
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", chromedriver.display()));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(90)))
            .build()
            .into();
        let mut driver = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            agent,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok((_, status)) = driver.request("GET", "/status", None) {
                if status["value"]["ready"] == json!(true) {
                    return driver;
                }
            }
            if let Ok(Some(exit)) = driver.child.try_wait() {
                panic!(
                    "chromedriver exited ({exit}) before it was ready; log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver was not ready after 30 s; log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// One WebDriver request: the status and the JSON reply.
    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), String> {
        let url = format!("{}{path}", self.base);
        let response = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, body) => self
                .agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(body.unwrap_or_else(|| json!({})).to_string()),
        };
        let mut response = response.map_err(|err| format!("{method} {url}: {err}"))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .map_err(|err| format!("{method} {url}: {err}"))?;
        let value = serde_json::from_str(&text)
            .map_err(|err| format!("{method} {url}: not JSON ({err}): {text}"))?;
        Ok((status, value))
    }

    /// A request that must succeed; its `value`.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, reply) = self
            .request(method, path, body)
            .unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(status, 200, "{method} {path}: {reply}");
        reply["value"].clone()
    }

    /// A headless Chromium session with a fresh profile, no network services and a fixed
    /// window size.
    fn session(&self, chromium: &Path, profile: &Path) -> Session<'_> {
        let capabilities = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium.to_str().expect("UTF-8 path"),
                    "args": [
                        "--headless=new",
                        "--no-sandbox",
                        "--disable-gpu",
                        "--disable-quic",
                        "--no-first-run",
                        "--disable-background-networking",
                        "--disable-component-update",
                        "--disable-sync",
                        "--window-size=1280,1800",
                        format!("--user-data-dir={}", profile.display()),
                    ],
                },
            }},
        });
        let value = self.call("POST", "/session", Some(capabilities));
        let id = value["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {value}"))
            .to_string();
        Session { driver: self, id }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A WebDriver session; deleted (which closes the browser) when dropped.
struct Session<'a> {
    driver: &'a Driver,
    id: String,
}

impl Session<'_> {
    fn post(&self, command: &str, body: Value) -> Value {
        self.driver.call(
            "POST",
            &format!("/session/{}/{command}", self.id),
            Some(body),
        )
    }

    fn get(&self, command: &str) -> Value {
        self.driver
            .call("GET", &format!("/session/{}/{command}", self.id), None)
    }

    /// The element matching a CSS selector (the test fails when there is none).
    fn find(&self, selector: &str) -> String {
        let found = self.post(
            "element",
            json!({ "using": "css selector", "value": selector }),
        );
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element for {selector}: {found}"))
            .to_string()
    }

    fn displayed(&self, element: &str) -> bool {
        self.get(&format!("element/{element}/displayed")) == json!(true)
    }

    fn text(&self, element: &str) -> String {
        self.get(&format!("element/{element}/text"))
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn script(&self, script: &str) -> Value {
        self.post("execute/sync", json!({ "script": script, "args": [] }))
    }

    /// A script that ends by calling its last argument with the result.
    fn script_async(&self, script: &str) -> Value {
        self.post("execute/async", json!({ "script": script, "args": [] }))
    }

    /// The viewport as PNG bytes.
    fn screenshot(&self) -> Vec<u8> {
        let encoded = self.get("screenshot");
        base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().expect("a base64 string"))
            .expect("the screenshot is base64")
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let _ = self
            .driver
            .request("DELETE", &format!("/session/{}", self.id), None);
    }
}
