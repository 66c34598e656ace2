//! A stub HTTP server on 127.0.0.1 for the probe proof tests: it answers every request with the
//! body `{}` and the status a function of the request says, until it is dropped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// A running stub; stopped and joined when dropped.
pub struct Stub {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Stub {
    /// Serves on a free loopback port, answering each request with `status(&request)`.
    pub fn start(status: impl Fn(&tiny_http::Request) -> u16 + Send + 'static) -> Stub {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind");
        let base = format!(
            "http://{}",
            server.server_addr().to_ip().expect("ip address")
        );
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                let Ok(Some(request)) = server.recv_timeout(Duration::from_millis(50)) else {
                    continue;
                };
                let status = status(&request);
                let _ = request
                    .respond(tiny_http::Response::from_string("{}").with_status_code(status));
            }
        });
        Stub {
            base,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The value of the request's `name` header, if it has one.
pub fn header<'r>(request: &'r tiny_http::Request, name: &'static str) -> Option<&'r str> {
    request
        .headers()
        .iter()
        .find(|header| header.field.equiv(name))
        .map(|header| header.value.as_str())
}
