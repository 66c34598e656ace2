//! Whether a started service is ready: a TCP connection accepted, or `GET path` answered 2xx.

use std::io::{BufRead, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Why a readiness probe failed this time (the service may still become ready).
#[derive(Debug, thiserror::Error)]
pub(super) enum ReadyError {
    /// The host name did not resolve.
    #[error("cannot resolve {host}{}", source.as_ref().map(|err| format!(": {err}")).unwrap_or_default())]
    Resolve {
        host: String,
        #[source]
        source: Option<std::io::Error>,
    },
    /// Nothing accepted the connection.
    #[error("connect to {host}:{port}: {source}")]
    Connect {
        host: String,
        port: u16,
        #[source]
        source: std::io::Error,
    },
    /// The HTTP request or its answer failed on the wire.
    #[error("GET {path}: {source}")]
    Request {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The answer was not 2xx.
    #[error("GET {path} answered `{status}`")]
    Status { path: String, status: String },
}

fn connect(host: &str, port: u16) -> Result<TcpStream, ReadyError> {
    let resolve = |source| ReadyError::Resolve {
        host: host.to_string(),
        source,
    };
    let address = (host, port)
        .to_socket_addrs()
        .map_err(|err| resolve(Some(err)))?
        .next()
        .ok_or_else(|| resolve(None))?;
    TcpStream::connect_timeout(&address, Duration::from_secs(1)).map_err(|source| {
        ReadyError::Connect {
            host: host.to_string(),
            port,
            source,
        }
    })
}

/// A TCP connection is accepted.
pub(super) fn tcp_ready(host: &str, port: u16) -> Result<(), ReadyError> {
    connect(host, port).map(drop)
}

/// `GET path` answered with a 2xx status.
pub(super) fn http_ready(host: &str, port: u16, path: &str) -> Result<(), ReadyError> {
    let mut stream = connect(host, port)?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|source| ReadyError::Request {
            path: path.to_string(),
            source,
        })?;
    let mut status_line = String::new();
    std::io::BufReader::new(stream.take(1024))
        .read_line(&mut status_line)
        .map_err(|source| ReadyError::Request {
            path: path.to_string(),
            source,
        })?;
    let code = status_line.split_whitespace().nth(1).unwrap_or("");
    if code.starts_with('2') && code.len() == 3 {
        Ok(())
    } else {
        Err(ReadyError::Status {
            path: path.to_string(),
            status: status_line.trim().to_string(),
        })
    }
}
