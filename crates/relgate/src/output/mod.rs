//! How relgate writes, and reads back what it wrote: every byte through the redactor
//! ([`redaction`]), every file replaced atomically ([`atomic`]), paths the evidence names
//! confined to the out directory ([`containment`]), advisory file locks ([`flock`]), and the
//! end of a log ([`tail`]). The primitives every later stage writes with; they know nothing of
//! gates, checks or reports.

pub mod atomic;
pub mod containment;
pub mod flock;
pub mod redaction;
pub mod tail;
