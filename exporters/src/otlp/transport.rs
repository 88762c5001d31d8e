//! POSTing one encoded request to an OTLP/HTTP endpoint, with the
//! specification's retry rules: 429, 502, 503 and 504 are retried (after
//! `Retry-After` when the receiver gives one, else an exponential backoff
//! with jitter), within the export timeout; anything else is final.

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

use super::config::{check_url, ConfigError, OtlpConfig};
use crate::push::BackendError;

/// Where and how to POST.
#[derive(Debug)]
pub(crate) struct Transport {
    authority: String,
    path: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    timeout: Duration,
    gzip: bool,
    /// Retries so far (all exports).
    pub(crate) retries: u64,
    /// The last partial success's message.
    pub(crate) partial: Option<String>,
}

impl Transport {
    pub(crate) fn new(c: &OtlpConfig) -> Result<Transport, ConfigError> {
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
        Ok(Transport {
            authority,
            path,
            headers,
            // At most a day: deadlines are computed from it.
            timeout: c.timeout.min(Duration::from_secs(86_400)),
            gzip: c.gzip,
            retries: 0,
            partial: None,
        })
    }

    /// Sends `request` (an encoded `ExportMetricsServiceRequest`),
    /// retrying what may be retried until the timeout.
    pub(crate) async fn send(&mut self, request: Vec<u8>) -> Result<(), BackendError> {
        let body = if self.gzip {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(&request)?;
            enc.finish()?
        } else {
            request
        };
        let body = Bytes::from(body);
        let deadline = Instant::now() + self.timeout;
        let mut attempt = 0u32;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let outcome = match tokio::time::timeout(left, self.post(body.clone())).await {
                Ok(r) => r,
                Err(_) => {
                    return Err(
                        format!("no answer within the export timeout ({:?})", self.timeout).into(),
                    )
                }
            };
            let (status, retry_after, body, unreachable) = match outcome {
                Ok((s, r, b)) => (s, r, b, None),
                // The receiver is down or unreachable: retried like a 503,
                // reported as what it is.
                Err(e) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    None,
                    Bytes::new(),
                    Some(e.to_string()),
                ),
            };
            if status.is_success() {
                if let Ok(r) = ExportMetricsServiceResponse::decode(body) {
                    if let Some(p) = r
                        .partial_success
                        .filter(|p| p.rejected_data_points != 0 || !p.error_message.is_empty())
                    {
                        let msg = format!(
                            "the receiver rejected {} data points: {}",
                            p.rejected_data_points, p.error_message
                        );
                        eprintln!("nanometrics otlp: {msg}");
                        self.partial = Some(msg);
                    }
                }
                return Ok(());
            }
            let retryable = matches!(status.as_u16(), 429 | 502 | 503 | 504);
            if !retryable {
                let text = String::from_utf8_lossy(&body);
                return Err(format!(
                    "the receiver answered {status}: {}",
                    text.chars().take(200).collect::<String>()
                )
                .into());
            }
            // What the receiver asked for (at least 100 ms), else an
            // exponential backoff with jitter.
            let backoff = retry_after
                .map(|d| d.max(Duration::from_millis(100)))
                .unwrap_or_else(|| {
                    let base = Duration::from_millis(100) * 2u32.saturating_pow(attempt.min(8));
                    base.mul_f64(0.5 + jitter())
                });
            if Instant::now()
                .checked_add(backoff)
                .is_none_or(|t| t >= deadline)
            {
                let why = match unreachable {
                    Some(e) => format!("the receiver could not be reached ({e})"),
                    None => format!("the receiver answered {status}"),
                };
                return Err(format!("{why} until the export timeout ({:?})", self.timeout).into());
            }
            self.retries += 1;
            attempt += 1;
            tokio::time::sleep(backoff).await;
        }
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
