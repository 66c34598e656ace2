//! PLACEHOLDER — replaced by the probe's implementation.

use crate::{Case, Config, ConfigError, Context, Probe};

pub(crate) struct SecretsProbe;

impl SecretsProbe {
    pub(crate) fn configure(_config: &mut Config<'_>) -> Result<Self, ConfigError> {
        Ok(SecretsProbe)
    }
}

impl Probe for SecretsProbe {
    fn cases(&self) -> Vec<String> {
        Vec::new()
    }

    fn run(&self, _context: &Context<'_>) -> Result<Vec<Case>, String> {
        Err("not built yet".to_string())
    }
}

/// Text with every match of the built-in secret rules replaced by [`crate::redact::MASK`].
pub(crate) fn redact_matches(text: &str) -> std::borrow::Cow<'_, str> {
    std::borrow::Cow::Borrowed(text)
}
