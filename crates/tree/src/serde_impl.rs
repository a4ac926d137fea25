//! serde support (feature `serde`): placeholder.
