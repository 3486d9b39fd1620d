//! Request and response frames.
