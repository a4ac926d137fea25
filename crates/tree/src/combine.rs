//! Value and topology combination of two trees (placeholder).
