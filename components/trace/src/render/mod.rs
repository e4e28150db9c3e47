//! What `list` and `show` write: the list table and its JSON lines, the terminal waterfall, the
//! HTML page, Chrome trace JSON and OTLP/JSON. Each reads the model ([`crate::model`],
//! [`crate::summary`]) and nothing else.

pub mod chrome;
pub mod html;
pub mod list;
pub mod otlp_json;
pub mod terminal;
