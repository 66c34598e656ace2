//! PLACEHOLDER — replaced by the probe's implementation.

use crate::{Case, Config, ConfigError, Context, Probe};

pub(crate) struct RbacProbe;

impl RbacProbe {
    pub(crate) fn configure(_config: &mut Config<'_>) -> Result<Self, ConfigError> {
        Ok(RbacProbe)
    }
}

impl Probe for RbacProbe {
    fn cases(&self) -> Vec<String> {
        Vec::new()
    }

    fn run(&self, _context: &Context<'_>) -> Result<Vec<Case>, String> {
        Err("not built yet".to_string())
    }
}
