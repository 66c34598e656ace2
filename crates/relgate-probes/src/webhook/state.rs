//! The `webhook` probe's configuration ([`WebhookProbe`]) and run state (a [`Sender`], each
//! [`Attempt`]): the leaf `mod.rs` and `deliver.rs` build on.

use std::time::Duration;

use crate::config::SecretSource;
use crate::http::{Reply, Request};
use crate::probe::Context;

use super::keys::Statuses;
use super::scheme::Scheme;

/// How far beyond the tolerance the stale and future timestamps lie, so that a little clock
/// skew between the probe and the target cannot make a correct receiver look lax.
pub(super) const TIMESTAMP_MARGIN: Duration = Duration::from_secs(60);

/// A configured `webhook` probe.
pub(crate) struct WebhookProbe {
    pub(super) url: String,
    pub(super) scheme: Scheme,
    pub(super) secret: SecretSource,
    /// The control delivery's JSON body; `None`: the scheme's harmless default.
    pub(super) body: Option<String>,
    pub(super) headers: Vec<(String, String)>,
    /// `Some` exactly when the scheme signs a timestamp.
    pub(super) tolerance: Option<Duration>,
    pub(super) future_timestamp: bool,
    pub(super) replayed_id: bool,
    pub(super) accepted: Statuses,
    pub(super) refused: Statuses,
    pub(super) request_timeout: Duration,
}

/// One delivery sent and what came back.
pub(super) struct Attempt {
    pub(super) request: Request,
    pub(super) reply: Result<Reply, String>,
}

/// What one run needs besides the probe's configuration.
pub(super) struct Sender<'r> {
    pub(super) probe: &'r WebhookProbe,
    pub(super) context: &'r Context<'r>,
    pub(super) key: Vec<u8>,
    pub(super) body: Vec<u8>,
}
