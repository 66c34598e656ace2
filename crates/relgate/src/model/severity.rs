//! How much a failing check matters: the seeds' severity rubric.

/// Release impact of a failing check, as in the seeds' severity rubric.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Severity {
    /// Blocks release unless accepted.
    P0,
    /// Must be triaged: needs a risk acceptance.
    P1,
    /// Does not block; tracked for follow-up.
    P2,
}

impl Severity {
    /// `P0`, `P1` or `P2`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::P0 => "P0",
            Severity::P1 => "P1",
            Severity::P2 => "P2",
        }
    }
}
