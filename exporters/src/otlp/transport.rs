//! Delivering one encoded request, with the specification's retry rules:
//! what may be retried (OTLP/HTTP: 429, 502, 503, 504; OTLP/gRPC: the
//! retryable codes, `grpc.rs`) is tried again after `Retry-After` when the
//! receiver gives one, else after an exponential backoff with jitter,
//! within the export timeout; anything else is final. A partial success
//! is reported and not retried.

use std::io::Write;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{
    HeaderName, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE, HOST, RETRY_AFTER, USER_AGENT,
};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use prost::Message;

use super::attempt::Attempt;
use super::config::{check_url, ConfigError, OtlpConfig, Protocol};
use crate::push::BackendError;

/// How one export travels, and what delivery has seen.
#[derive(Debug)]
pub(crate) struct Transport {
    via: Via,
    timeout: Duration,
    /// Retries so far (all exports).
    pub(crate) retries: u64,
    /// Data points partial successes said were rejected (all exports).
    pub(crate) rejected_points: u64,
}

#[derive(Debug)]
enum Via {
    Http(HttpPost),
    #[cfg(feature = "otlp-grpc")]
    Grpc(super::grpc::GrpcExport),
}

impl Transport {
    /// The transport `c.protocol` names. gRPC's channel connects lazily:
    /// call inside the exporter's runtime.
    pub(crate) fn new(c: &OtlpConfig) -> Result<Transport, ConfigError> {
        let via = match c.protocol {
            Protocol::HttpProtobuf => Via::Http(HttpPost::new(c)?),
            #[cfg(feature = "otlp-grpc")]
            Protocol::Grpc => Via::Grpc(super::grpc::GrpcExport::new(c)?),
            #[cfg(not(feature = "otlp-grpc"))]
            Protocol::Grpc => {
                return Err(ConfigError(
                    "OTLP/gRPC needs the otlp-grpc feature; this build speaks http/protobuf".into(),
                ))
            }
        };
        Ok(Transport {
            via,
            // At most a day: deadlines are computed from it.
            timeout: c.timeout.min(Duration::from_secs(86_400)),
            retries: 0,
            rejected_points: 0,
        })
    }

    /// Sends `request` (an encoded `ExportMetricsServiceRequest`),
    /// retrying what may be retried until the timeout.
    pub(crate) async fn send(&mut self, request: Vec<u8>) -> Result<(), BackendError> {
        let body = match &self.via {
            Via::Http(h) => h.body(request)?,
            #[cfg(feature = "otlp-grpc")]
            Via::Grpc(_) => Bytes::from(request),
        };
        let deadline = Instant::now() + self.timeout;
        let mut attempt = 0u32;
        // What the last retried try came to: the export's error if the
        // timeout cuts the next one short.
        let mut last_why: Option<String> = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let outcome = match &self.via {
                Via::Http(h) => tokio::time::timeout(left, h.attempt(body.clone())).await,
                #[cfg(feature = "otlp-grpc")]
                Via::Grpc(g) => tokio::time::timeout(left, g.attempt(body.clone(), left)).await,
            };
            let Ok(outcome) = outcome else {
                return Err(match last_why {
                    Some(why) => format!(
                        "{why}, then no answer, until the export timeout ({:?})",
                        self.timeout
                    ),
                    None => format!("no answer within the export timeout ({:?})", self.timeout),
                }
                .into());
            };
            let (after, why) = match outcome {
                Attempt::Accepted(r) => {
                    if let Some(p) = r
                        .partial_success
                        .filter(|p| p.rejected_data_points != 0 || !p.error_message.is_empty())
                    {
                        let msg = format!(
                            "the receiver rejected {} data points: {}",
                            p.rejected_data_points, p.error_message
                        );
                        eprintln!("nanometrics otlp: {msg}");
                        self.rejected_points = self
                            .rejected_points
                            .saturating_add(u64::try_from(p.rejected_data_points).unwrap_or(0));
                    }
                    return Ok(());
                }
                Attempt::Rejected(why) => return Err(why.into()),
                Attempt::Retry { after, why } => (after, why),
            };
            // What the receiver asked for (at least 100 ms), else an
            // exponential backoff with jitter.
            let backoff = after
                .map(|d| d.max(Duration::from_millis(100)))
                .unwrap_or_else(|| {
                    let base = Duration::from_millis(100) * 2u32.saturating_pow(attempt.min(8));
                    base.mul_f64(0.5 + jitter())
                });
            if Instant::now()
                .checked_add(backoff)
                .is_none_or(|t| t >= deadline)
            {
                return Err(format!("{why} until the export timeout ({:?})", self.timeout).into());
            }
            self.retries += 1;
            attempt += 1;
            last_why = Some(why);
            tokio::time::sleep(backoff).await;
        }
    }
}

/// Where and how to POST.
#[derive(Debug)]
struct HttpPost {
    authority: String,
    path: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    gzip: bool,
}

impl HttpPost {
    fn new(c: &OtlpConfig) -> Result<HttpPost, ConfigError> {
        check_url("the endpoint", &c.endpoint)?;
        let uri: hyper::Uri = c
            .endpoint
            .parse()
            .map_err(|e| ConfigError(format!("the endpoint {:?}: {e}", c.endpoint)))?;
        let host = uri.host().unwrap_or_default();
        let authority = format!("{host}:{}", uri.port_u16().unwrap_or(80));
        let path = uri.path().to_string();
        let mut headers = Vec::new();
        for (k, v) in &c.headers {
            if ["content-type", "content-encoding", "host", "content-length"]
                .contains(&k.to_ascii_lowercase().as_str())
            {
                return Err(ConfigError(format!(
                    "header {k:?} is the exporter's to set, not a configuration's"
                )));
            }
            let name = HeaderName::try_from(k.as_str()).map_err(|_| {
                ConfigError(format!("header name {k:?} is not a valid HTTP header name"))
            })?;
            let value = HeaderValue::try_from(v.as_str()).map_err(|_| {
                ConfigError(format!(
                    "header {k:?}: its value is not a valid HTTP header value"
                ))
            })?;
            headers.push((name, value));
        }
        Ok(HttpPost {
            authority,
            path,
            headers,
            gzip: c.gzip,
        })
    }

    /// The request body: the request, gzipped if so configured.
    fn body(&self, request: Vec<u8>) -> std::io::Result<Bytes> {
        Ok(Bytes::from(if self.gzip {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(&request)?;
            enc.finish()?
        } else {
            request
        }))
    }

    /// One POST: 2xx is accepted; 429, 502, 503 and 504 (and a receiver
    /// that cannot be reached, like a 503) are worth another try;
    /// anything else is final.
    async fn attempt(&self, body: Bytes) -> Attempt {
        let (status, retry_after, body) = match self.post(body).await {
            Ok(answer) => answer,
            Err(e) => {
                return Attempt::Retry {
                    after: None,
                    why: format!("the receiver could not be reached ({e})"),
                }
            }
        };
        if status.is_success() {
            return Attempt::Accepted(
                ExportMetricsServiceResponse::decode(body).unwrap_or_default(),
            );
        }
        if matches!(status.as_u16(), 429 | 502 | 503 | 504) {
            return Attempt::Retry {
                after: retry_after,
                why: format!("the receiver answered {status}"),
            };
        }
        let text = String::from_utf8_lossy(&body);
        Attempt::Rejected(format!(
            "the receiver answered {status}: {}",
            text.chars().take(200).collect::<String>()
        ))
    }

    /// One POST: the status, `Retry-After` (seconds), and the body.
    async fn post(
        &self,
        body: Bytes,
    ) -> Result<(StatusCode, Option<Duration>, Bytes), BackendError> {
        let stream = tokio::net::TcpStream::connect(&self.authority).await?;
        let _ = stream.set_nodelay(true);
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(&self.path)
            .header(HOST, &self.authority)
            .header(CONTENT_TYPE, "application/x-protobuf")
            .header(
                USER_AGENT,
                concat!("nanometrics/", env!("CARGO_PKG_VERSION")),
            )
            .body(Full::new(body))?;
        if self.gzip {
            req.headers_mut()
                .insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        for (k, v) in &self.headers {
            req.headers_mut().insert(k.clone(), v.clone());
        }
        let resp = sender.send_request(req).await?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = resp.into_body().collect().await?.to_bytes();
        Ok((status, retry_after, bytes))
    }
}

/// A number in [0, 1) that differs between calls (the clock's nanoseconds).
fn jitter() -> f64 {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    f64::from(n % 1_000_000) / 1_000_000.0
}
