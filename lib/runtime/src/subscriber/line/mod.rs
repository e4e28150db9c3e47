//! The pieces every line is made of, shared by both formats: the time ([`timestamp`]), key
//! names ([`keys`]), the escaping scans ([`scan`]), floats ([`float`]) and the per-thread cache
//! of what a callsite always writes ([`callsite`]).

pub(crate) mod callsite;
pub(crate) mod float;
pub mod keys;
pub(crate) mod scan;
pub(crate) mod timestamp;

pub use timestamp::TimeZone;
