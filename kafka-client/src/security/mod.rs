//! Security for broker connections: TLS configuration (rustls on `ring`) and SASL
//! authentication (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512).

pub(crate) mod sasl;
pub mod scram;
pub(crate) mod tls;
