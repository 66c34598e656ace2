//! PLACEHOLDER — replaced by the probe's implementation.

use crate::{Case, Config, ConfigError, Context, Probe};

pub(crate) struct ConsentProbe;

impl ConsentProbe {
    pub(crate) fn configure(_config: &mut Config<'_>) -> Result<Self, ConfigError> {
        Ok(ConsentProbe)
    }
}

impl Probe for ConsentProbe {
    fn cases(&self) -> Vec<String> {
        Vec::new()
    }

    fn run(&self, _context: &Context<'_>) -> Result<Vec<Case>, String> {
        Err("not built yet".to_string())
    }
}
