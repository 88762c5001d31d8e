//! [`Attempt`]: what one try of an export came to, whichever transport
//! (HTTP, gRPC) made it; the retry loop in `transport.rs` decides on it.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;

/// What one try of an export came to.
pub(crate) enum Attempt {
    /// The receiver took it; its answer.
    Accepted(ExportMetricsServiceResponse),
    /// The receiver refused it for good.
    Rejected(String),
    /// Worth another try: after `after` if the receiver said so (else a
    /// backoff); `why` says what happened.
    Retry {
        after: Option<Duration>,
        why: String,
    },
}
