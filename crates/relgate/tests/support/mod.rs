//! What the relgate integration tests share: the report fixture and the SARIF consumer checks.
// Each test binary uses part of it.
#![allow(dead_code)]

pub mod fixture;
pub mod sarif_consumer;
