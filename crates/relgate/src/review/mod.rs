//! Human review, as hard to fake as the rest of the evidence: a reviewer approves a packet (or
//! requests changes) with `cargo xtask gate approve` / `request-changes`, which writes a record
//! bound to what was reviewed ([`record`]: the code, the packet's definition — `Packet::definition`, see `spec/definition.rs` — and its outcomes) and
//! signs it with the reviewer's SSH key ([`store`], the `ssh-keygen -Y sign` format, namespace
//! [`NAMESPACE`]); reading the reviews back checks each signature against the gate's allowed
//! signers file, and [`state`] turns the valid ones into the packet's review state.

pub mod code;
pub mod record;
pub mod state;
pub mod store;

/// The SSH signature namespace of reviews: a signature made for git commits (`git`) or files
/// (`file`) is no approval.
pub const NAMESPACE: &str = "relgate-review";
