//! OTLP/gRPC (feature `otlp-grpc`): one encoded request as a unary call
//! of `opentelemetry.proto.collector.metrics.v1.MetricsService/Export`,
//! over tonic's channel. The request is sent as the bytes the mapping
//! wrote (a codec that copies them into the frame); the answer is decoded
//! with `opentelemetry-proto`.
//!
//! Retried, as the OTLP specification lists: `CANCELLED`,
//! `DEADLINE_EXCEEDED`, `ABORTED`, `OUT_OF_RANGE`, `UNAVAILABLE` (and a
//! server that cannot be reached), `DATA_LOSS`. `RESOURCE_EXHAUSTED` is
//! retryable only with the server's `RetryInfo`, which this exporter does
//! not read: it is final, like every other code.

use std::time::Duration;

use hyper::body::Bytes;
use hyper::http::uri::PathAndQuery;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use prost::bytes::BufMut;
use prost::Message;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use super::attempt::Attempt;
use super::config::{check_url, ConfigError, OtlpConfig, DEFAULT_ENDPOINT, DEFAULT_GRPC_ENDPOINT};

const EXPORT: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

/// A channel to the server, and what every call carries.
#[derive(Debug)]
pub(crate) struct GrpcExport {
    channel: Channel,
    metadata: MetadataMap,
    gzip: bool,
}

impl GrpcExport {
    /// Its channel connects on the first call (and again after a failure):
    /// make it inside a tokio runtime.
    pub(crate) fn new(c: &OtlpConfig) -> Result<GrpcExport, ConfigError> {
        // A configuration built from `OtlpConfig::default()` with only the
        // protocol changed means gRPC's default, not HTTP's.
        let url = if c.endpoint == DEFAULT_ENDPOINT {
            DEFAULT_GRPC_ENDPOINT
        } else {
            &c.endpoint
        };
        check_url("the endpoint", url)?;
        let endpoint = Endpoint::from_shared(url.to_string())
            .map_err(|e| ConfigError(format!("the endpoint {url:?}: {e}")))?
            .user_agent(concat!("nanometrics/", env!("CARGO_PKG_VERSION")))
            .map_err(|e| ConfigError(format!("the user agent: {e}")))?;
        let mut metadata = MetadataMap::new();
        for (k, v) in &c.headers {
            let lower = k.to_ascii_lowercase();
            if lower.starts_with("grpc-")
                || ["content-type", "te", "user-agent", "host"].contains(&lower.as_str())
            {
                return Err(ConfigError(format!(
                    "header {k:?} is the exporter's to set, not a configuration's"
                )));
            }
            let key = MetadataKey::from_bytes(lower.as_bytes()).map_err(|_| {
                ConfigError(format!(
                    "header name {k:?} is not a valid gRPC metadata key"
                ))
            })?;
            let value = MetadataValue::try_from(v.as_str()).map_err(|_| {
                ConfigError(format!(
                    "header {k:?}: its value is not a valid gRPC metadata value"
                ))
            })?;
            metadata.insert(key, value);
        }
        Ok(GrpcExport {
            channel: endpoint.connect_lazy(),
            metadata,
            gzip: c.gzip,
        })
    }

    /// One call, with `left` as its deadline.
    pub(crate) async fn attempt(&self, body: Bytes, left: Duration) -> Attempt {
        let mut client = tonic::client::Grpc::new(self.channel.clone());
        if self.gzip {
            client = client.send_compressed(CompressionEncoding::Gzip);
        }
        if let Err(e) = client.ready().await {
            return Attempt::Retry {
                after: None,
                why: format!("the receiver could not be reached ({e})"),
            };
        }
        let mut request = tonic::Request::new(body);
        *request.metadata_mut() = self.metadata.clone();
        request.set_timeout(left);
        let path = PathAndQuery::from_static(EXPORT);
        match client.unary(request, path, RequestCodec).await {
            Ok(response) => Attempt::Accepted(response.into_inner()),
            Err(status) => outcome(&status),
        }
    }
}

/// What a failed call comes to.
fn outcome(status: &Status) -> Attempt {
    let why = format!(
        "the receiver answered {:?}: {}",
        status.code(),
        status.message().chars().take(200).collect::<String>()
    );
    match status.code() {
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss => Attempt::Retry { after: None, why },
        // Not the server's answer: the connection failed under the call
        // (tonic gives UNKNOWN with the transport error as its source),
        // which is retried like a server that cannot be reached.
        Code::Unknown if std::error::Error::source(status).is_some() => {
            Attempt::Retry { after: None, why }
        }
        _ => Attempt::Rejected(why),
    }
}

/// Sends the mapping's bytes as they are; decodes the answer.
#[derive(Debug, Clone, Copy, Default)]
struct RequestCodec;

impl Codec for RequestCodec {
    type Encode = Bytes;
    type Decode = ExportMetricsServiceResponse;
    type Encoder = RequestCodec;
    type Decoder = RequestCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RequestCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RequestCodec
    }
}

impl Encoder for RequestCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RequestCodec {
    type Item = ExportMetricsServiceResponse;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        ExportMetricsServiceResponse::decode(src)
            .map(Some)
            .map_err(|e| Status::internal(format!("an answer that does not decode: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retryable_codes_are_the_specifications() {
        for code in [
            Code::Cancelled,
            Code::DeadlineExceeded,
            Code::Aborted,
            Code::OutOfRange,
            Code::Unavailable,
            Code::DataLoss,
        ] {
            assert!(
                matches!(outcome(&Status::new(code, "x")), Attempt::Retry { .. }),
                "{code:?}"
            );
        }
        let with_source = Status::from_error(Box::new(std::io::Error::other("reset")));
        assert_eq!(with_source.code(), Code::Unknown);
        assert!(matches!(outcome(&with_source), Attempt::Retry { .. }));
        for code in [
            Code::Unknown,
            Code::InvalidArgument,
            Code::ResourceExhausted,
            Code::Unauthenticated,
            Code::PermissionDenied,
            Code::Unimplemented,
            Code::Internal,
        ] {
            assert!(
                matches!(outcome(&Status::new(code, "x")), Attempt::Rejected(_)),
                "{code:?}"
            );
        }
    }
}
