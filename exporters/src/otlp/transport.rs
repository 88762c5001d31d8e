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
        let rest = c.endpoint.strip_prefix("http://").unwrap_or(&c.endpoint);
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let authority = if authority.contains(':') && !authority.ends_with(']') {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        let mut headers = Vec::new();
        for (k, v) in &c.headers {
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
            path: path.to_string(),
            headers,
            timeout: c.timeout,
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
            let (status, retry_after, body) = match outcome {
                Ok(answer) => answer,
                // The receiver is down or unreachable: retried like a 503.
                Err(e) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    None,
                    Bytes::from(e.to_string()),
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
            // Exponential backoff with jitter, or what the receiver asked for.
            let backoff = retry_after.unwrap_or_else(|| {
                let base = Duration::from_millis(100) * 2u32.saturating_pow(attempt.min(8));
                base.mul_f64(0.5 + jitter())
            });
            if Instant::now() + backoff >= deadline {
                return Err(format!(
                    "the receiver answered {status} until the export timeout ({:?})",
                    self.timeout
                )
                .into());
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
