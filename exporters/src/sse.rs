//! `GET /metrics/stream`: frames of a watch as server-sent events.
//!
//! ```text
//! GET /metrics/stream?family=ttft_seconds{model="llama"}&every=1s&window=10s&quantiles=0.5,0.99
//! ```
//!
//! | parameter | meaning | default |
//! |---|---|---|
//! | `family` | a [`Selector`]: family name, optional `{label="v",label!="v"}` (URL-encoded) | required |
//! | `every` | how often a frame comes: `250ms`, `1s`, `1.5s`, `2m`, or plain seconds | one tick |
//! | `window` | the window of the statistics, same syntax | `every` |
//! | `quantiles` | comma-separated, each in `[0, 1]` | `0.5,0.9,0.99` |
//!
//! The answer is `text/event-stream`: first `retry: 1000`, then one event
//! per frame, `id:` its sequence number and `data:` the frame as JSON
//! ([`frame_json`](crate::frame_json)). A client that reconnects with
//! `Last-Event-ID` gets the frames it missed first, as far as the server's
//! ring for that query still holds them (the ring keeps being fed for a
//! while after the last client of a query leaves). A client that falls
//! the queue length behind (it does not read fast enough) gets a final
//! `event: dropped` and is disconnected, and
//! `nanometrics_stream_dropped_clients_total` counts it; the ticker and
//! other clients never wait for it. A stream that has sent nothing for 15 s
//! gets a `: keep-alive` comment line. Past the stream cap (16 by default),
//! or past 64 distinct queries with a feed, the answer is 503; a bad
//! parameter, or a window or period longer than an hour (the server's
//! `max_stream_window`), gets 400 with the rule in the body.
//!
//! Every query has one watch, shared by its clients: a frame is built once
//! and encoded once per tick whatever the number of clients.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::body::{Body, Bytes, Frame as BodyFrame};
use nanometrics::realtime::{Overflow, Selector, Subscription, Ticker};
use nanometrics::{Counter, Registry, UpDownCounter};
use tokio::sync::{mpsc, Notify, OwnedSemaphorePermit, Semaphore};

use crate::frame_json::write_frame;
use crate::percent;
use crate::sync::lock;

/// What a stream asked for, parsed from its query string.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamQuery {
    /// The series to follow.
    pub selector: Selector,
    /// `every`, if given.
    pub every: Option<Duration>,
    /// `window`, if given.
    pub window: Option<Duration>,
    /// `quantiles`, if given.
    pub quantiles: Option<Vec<f64>>,
}

impl StreamQuery {
    /// Parses a query string (without the `?`); the error is the rule that
    /// was broken, for a 400 body.
    ///
    /// ```
    /// use std::time::Duration;
    /// use nanometrics_exporters::sse::StreamQuery;
    /// let q = StreamQuery::parse("family=ttft_seconds%7Bmodel%3D%22llama%22%7D&every=250ms&window=10s")?;
    /// assert_eq!(q.selector.to_string(), r#"ttft_seconds{model="llama"}"#);
    /// assert_eq!((q.every, q.window), (Some(Duration::from_millis(250)), Some(Duration::from_secs(10))));
    /// assert!(StreamQuery::parse("every=1s").unwrap_err().contains("family"));
    /// assert!(StreamQuery::parse("family=x&every=soon").unwrap_err().contains("duration"));
    /// # Ok::<(), String>(())
    /// ```
    pub fn parse(query: &str) -> Result<StreamQuery, String> {
        let mut selector = None;
        let (mut every, mut window, mut quantiles) = (None, None, None);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = percent::decode(k, true)?;
            let v = percent::decode(v, true)?;
            let once = |seen: bool| {
                if seen {
                    Err(format!("parameter {k:?} is given twice"))
                } else {
                    Ok(())
                }
            };
            match k.as_str() {
                "family" => {
                    once(selector.is_some())?;
                    selector = Some(v.parse::<Selector>().map_err(|e| e.to_string())?);
                }
                "every" => {
                    once(every.is_some())?;
                    every = Some(parse_duration("every", &v)?);
                }
                "window" => {
                    once(window.is_some())?;
                    window = Some(parse_duration("window", &v)?);
                }
                "quantiles" => {
                    once(quantiles.is_some())?;
                    let qs = v
                        .split(',')
                        .map(|q| match q.trim().parse::<f64>() {
                            Ok(q) if (0.0..=1.0).contains(&q) => Ok(q),
                            _ => Err(format!(
                                "quantiles: {q:?} is not a number in [0, 1] (quantiles=0.5,0.9,0.99)"
                            )),
                        })
                        .collect::<Result<Vec<f64>, String>>()?;
                    quantiles = Some(qs);
                }
                _ => {
                    return Err(format!(
                    "unknown parameter {k:?}: the parameters are family, every, window, quantiles"
                ))
                }
            }
        }
        Ok(StreamQuery {
            selector: selector.ok_or(
                "the family parameter is required: family=name or family=name{label=\"value\"}",
            )?,
            every,
            window,
            quantiles,
        })
    }

    /// The canonical form: the key of the query's shared watch.
    fn key(&self) -> String {
        format!(
            "{}|{:?}|{:?}|{:?}",
            self.selector, self.every, self.window, self.quantiles
        )
    }
}

/// `250ms`, `1s`, `1.5s`, `2m`, `1h`, or a plain number of seconds;
/// positive and finite.
fn parse_duration(name: &str, v: &str) -> Result<Duration, String> {
    let v = v.trim();
    let (num, unit) = match v.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&v[..i], &v[i..]),
        None => (v, "s"),
    };
    let scale = match unit {
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => f64::NAN,
    };
    match num.parse::<f64>() {
        // At least a microsecond (a tick is at least a millisecond anyway).
        Ok(x) if scale.is_finite() && x.is_finite() && x * scale >= 1e-6 && x * scale <= 86_400.0 * 365.0 => {
            Ok(Duration::from_secs_f64(x * scale))
        }
        _ => Err(format!(
            "{name}: {v:?} is not a duration (a number with ms, s, m or h, from 1 µs up: 250ms, 1s, 2m)"
        )),
    }
}

/// How the server's streams are set up; see `MetricsServerBuilder`.
#[derive(Clone, Debug)]
pub(crate) struct StreamConfig {
    pub(crate) ticker: Option<Ticker>,
    pub(crate) max_streams: usize,
    /// Distinct queries with a feed at once.
    pub(crate) max_feeds: usize,
    /// The longest `window` or `every` a client may ask for.
    pub(crate) max_window: Duration,
    pub(crate) queue: usize,
    pub(crate) history: usize,
    pub(crate) linger: Duration,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            ticker: None,
            max_streams: 16,
            max_feeds: 64,
            max_window: Duration::from_secs(3600),
            queue: 64,
            history: 256,
            linger: Duration::from_secs(30),
        }
    }
}

/// The server's streams: one feed per distinct query.
pub(crate) struct StreamHub {
    registry: Registry,
    config: StreamConfig,
    feeds: Mutex<HashMap<String, Arc<Feed>>>,
    slots: Arc<Semaphore>,
    counters: std::sync::OnceLock<Option<(Counter, UpDownCounter)>>,
    /// Set by `close_all`: feeds end, new streams are refused.
    closing: AtomicBool,
}

/// One query's watch, its ring of recent events and its clients.
struct Feed {
    state: Mutex<FeedState>,
}

struct FeedState {
    ring: VecDeque<(u64, Bytes)>,
    clients: Vec<Client>,
    /// When the last client left (the feed ends `linger` after).
    empty_since: Option<Instant>,
}

struct Client {
    tx: mpsc::Sender<Bytes>,
    lagged: Arc<AtomicBool>,
    kill: Arc<Notify>,
}

/// How long a stream may go without writing before it gets a comment line.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// How long a dropped client's connection may take to write its final
/// event before it is closed.
const FINAL_GRACE: Duration = Duration::from_secs(2);

impl StreamHub {
    pub(crate) fn new(registry: Registry, config: StreamConfig) -> StreamHub {
        StreamHub {
            registry,
            slots: Arc::new(Semaphore::new(config.max_streams)),
            config,
            feeds: Mutex::new(HashMap::new()),
            counters: std::sync::OnceLock::new(),
            closing: AtomicBool::new(false),
        }
    }

    /// The self-metrics, declared with the first stream (`None` when the
    /// registry already has those names as something else).
    fn counters(&self) -> Option<&(Counter, UpDownCounter)> {
        self.counters
            .get_or_init(|| {
                let dropped = self.registry.counter(
                    "nanometrics_stream_dropped_clients_total",
                    "Stream clients disconnected because they fell behind.",
                );
                let open = self.registry.up_down_counter(
                    "nanometrics_stream_clients",
                    "Open /metrics/stream connections.",
                );
                dropped.ok().zip(open.ok())
            })
            .as_ref()
    }

    /// Parses and checks a stream's query: `Err((400, the rule))`.
    pub(crate) fn check(&self, query: &str) -> Result<StreamQuery, (u16, String)> {
        let q = StreamQuery::parse(query).map_err(|e| (400, format!("{e}\n")))?;
        for (name, d) in [("every", q.every), ("window", q.window)] {
            if d.is_some_and(|d| d > self.config.max_window) {
                return Err((
                    400,
                    format!(
                        "{name}: at most {:?} on this server (a longer window keeps more reads per series)\n",
                        self.config.max_window
                    ),
                ));
            }
        }
        Ok(q)
    }

    /// Opens a stream: the events to send first (the `retry:` line, then
    /// the ring's events after `last_id`), and the receiver of the rest.
    /// `Err((status, body))` on a bad query or past the cap.
    pub(crate) fn open(
        self: &Arc<Self>,
        query: &str,
        last_id: Option<u64>,
        kill: Arc<Notify>,
    ) -> Result<SseBody, (u16, String)> {
        let q = self.check(query)?;
        if self.closing.load(Ordering::SeqCst) {
            return Err((503, "the server is shutting down\n".into()));
        }
        let Ok(permit) = self.slots.clone().try_acquire_owned() else {
            return Err((
                503,
                format!("too many streams (at most {})\n", self.config.max_streams),
            ));
        };
        let (tx, rx) = mpsc::channel(self.config.queue.max(1));
        let lagged = Arc::new(AtomicBool::new(false));
        let mut first = VecDeque::from([Bytes::from_static(b"retry: 1000\n\n")]);
        {
            // The client joins under the feeds lock, which the feed's pump
            // takes to retire it: a feed found here is not retired
            // before this client is in it.
            let mut feeds = lock(&self.feeds);
            let feed = self.feed(&mut feeds, &q)?;
            let mut st = lock(&feed.state);
            if let Some(last) = last_id {
                first.extend(
                    st.ring
                        .iter()
                        .filter(|(s, _)| *s > last)
                        .map(|(_, b)| b.clone()),
                );
            }
            st.clients.push(Client {
                tx,
                lagged: lagged.clone(),
                kill,
            });
            st.empty_since = None;
        }
        let open = self.counters().map(|(_, open)| open.clone());
        if let Some(o) = &open {
            o.inc();
        }
        Ok(SseBody {
            first,
            rx,
            lagged,
            done: false,
            _permit: permit,
            open,
        })
    }

    /// The query's feed, started if needed (`feeds` is the locked map).
    fn feed(
        self: &Arc<Self>,
        feeds: &mut HashMap<String, Arc<Feed>>,
        q: &StreamQuery,
    ) -> Result<Arc<Feed>, (u16, String)> {
        let key = q.key();
        if let Some(f) = feeds.get(&key) {
            return Ok(f.clone());
        }
        if feeds.len() >= self.config.max_feeds {
            return Err((
                503,
                format!(
                    "too many distinct stream queries (at most {}); reuse one\n",
                    self.config.max_feeds
                ),
            ));
        }
        let bad = |e: nanometrics::Error| (400, format!("{e}\n"));
        let ticker = self
            .config
            .ticker
            .clone()
            .unwrap_or_else(|| nanometrics::realtime::ticker().clone());
        let mut b = self
            .registry
            .watch(&q.selector.to_string())
            .map_err(bad)?
            .ticker(&ticker)
            .queue(self.config.queue.max(1), Overflow::DropOldest);
        if let Some(e) = q.every {
            b = b.every(e);
        }
        if let Some(w) = q.window {
            b = b.window(w);
        }
        if let Some(qs) = &q.quantiles {
            b = b.quantiles(qs);
        }
        let sub = b.subscribe().map_err(bad)?;
        let feed = Arc::new(Feed {
            state: Mutex::new(FeedState {
                ring: VecDeque::new(),
                clients: Vec::new(),
                empty_since: None,
            }),
        });
        feeds.insert(key.clone(), feed.clone());
        tokio::spawn(pump(self.clone(), key, feed.clone(), sub));
        Ok(feed)
    }
}

/// Moves a feed's frames to its ring and clients until it has had no
/// client for `linger`.
async fn pump(hub: Arc<StreamHub>, key: String, feed: Arc<Feed>, sub: Subscription) {
    let check = hub.config.linger.min(Duration::from_secs(1));
    let mut event = Vec::new();
    let mut quiet_since = Instant::now();
    loop {
        match tokio::time::timeout(check, sub.next_frame()).await {
            Ok(Some(frame)) => {
                event.clear();
                event.extend_from_slice(b"id: ");
                event.extend_from_slice(frame.seq.to_string().as_bytes());
                event.extend_from_slice(b"\ndata: ");
                write_frame(&mut event, &frame);
                event.extend_from_slice(b"\n\n");
                let bytes = Bytes::copy_from_slice(&event);
                hub.deliver(&feed, Some(frame.seq), bytes);
                quiet_since = Instant::now();
            }
            Ok(None) => break,
            Err(_) => {}
        }
        // A comment line when no frame came for a while: clients and
        // proxies see a live connection, and a client that left is found
        // by the failed write.
        if quiet_since.elapsed() >= HEARTBEAT {
            hub.deliver(&feed, None, Bytes::from_static(b": keep-alive\n\n"));
            quiet_since = Instant::now();
        }
        // Lock order: feeds, then the feed (as `open`).
        let mut feeds = lock(&hub.feeds);
        let mut st = lock(&feed.state);
        // Clients that went away between frames.
        let before = st.clients.len();
        st.clients.retain(|c| !c.tx.is_closed());
        if before > 0 && st.clients.is_empty() {
            st.empty_since = Some(Instant::now());
        }
        let lingered = st
            .empty_since
            .is_some_and(|t| t.elapsed() >= hub.config.linger);
        if st.clients.is_empty() && (lingered || hub.closing.load(Ordering::SeqCst)) {
            if feeds.get(&key).is_some_and(|f| Arc::ptr_eq(f, &feed)) {
                feeds.remove(&key);
            }
            return;
        }
    }
    let mut feeds = lock(&hub.feeds);
    if feeds.get(&key).is_some_and(|f| Arc::ptr_eq(f, &feed)) {
        feeds.remove(&key);
    }
    // The watch ended (the ticker went): its clients' streams end too.
    lock(&feed.state).clients.clear();
}

impl StreamHub {
    /// Ends every stream (the server is shutting down): each body sends
    /// what it has queued, then ends.
    pub(crate) fn close_all(&self) {
        self.closing.store(true, Ordering::SeqCst);
        for feed in lock(&self.feeds).values() {
            lock(&feed.state).clients.clear();
        }
    }

    /// Sends `event` to every client of `feed`; a frame (with its `seq`)
    /// also goes into the ring.
    fn deliver(&self, feed: &Feed, seq: Option<u64>, event: Bytes) {
        let mut st = lock(&feed.state);
        if let Some(seq) = seq {
            st.ring.push_back((seq, event.clone()));
            while st.ring.len() > self.config.history {
                st.ring.pop_front();
            }
        }
        let before = st.clients.len();
        st.clients.retain(|c| match c.tx.try_send(event.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Closed(_)) => false,
            Err(mpsc::error::TrySendError::Full(_)) => {
                c.lagged.store(true, Ordering::SeqCst);
                if let Some((dropped, _)) = self.counters() {
                    dropped.inc();
                }
                let kill = c.kill.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(FINAL_GRACE).await;
                    kill.notify_one();
                });
                false
            }
        });
        if before > 0 && st.clients.is_empty() {
            st.empty_since = Some(Instant::now());
        }
    }
}

/// The body of one stream.
pub(crate) struct SseBody {
    first: VecDeque<Bytes>,
    rx: mpsc::Receiver<Bytes>,
    lagged: Arc<AtomicBool>,
    done: bool,
    _permit: OwnedSemaphorePermit,
    open: Option<UpDownCounter>,
}

impl Drop for SseBody {
    fn drop(&mut self) {
        if let Some(o) = &self.open {
            o.dec();
        }
    }
}

impl Body for SseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<BodyFrame<Bytes>, Infallible>>> {
        if let Some(b) = self.first.pop_front() {
            return Poll::Ready(Some(Ok(BodyFrame::data(b))));
        }
        if self.done {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(b)) => Poll::Ready(Some(Ok(BodyFrame::data(b)))),
            Poll::Ready(None) => {
                self.done = true;
                if self.lagged.load(Ordering::SeqCst) {
                    let msg = "event: dropped\ndata: {\"reason\":\"the client fell behind; reconnect with Last-Event-ID\"}\n\n";
                    Poll::Ready(Some(Ok(BodyFrame::data(Bytes::from_static(
                        msg.as_bytes(),
                    )))))
                } else {
                    Poll::Ready(None)
                }
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let d = |s| parse_duration("every", s);
        assert_eq!(d("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(d("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(d("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(d("3"), Ok(Duration::from_secs(3)));
        for bad in [
            "",
            "0",
            "-1s",
            "1d",
            "NaNs",
            "infs",
            "1e300",
            "s",
            "0.0000000001",
        ] {
            assert!(d(bad).unwrap_err().contains("not a duration"), "{bad}");
        }
    }

    #[test]
    fn queries() {
        let q = StreamQuery::parse("family=a&quantiles=0.5,0.99").unwrap();
        assert_eq!(q.quantiles, Some(vec![0.5, 0.99]));
        for (bad, why) in [
            ("family=a&family=b", "twice"),
            ("family=a&x=1", "unknown parameter"),
            ("family=a&quantiles=2", "[0, 1]"),
            ("family=a%ZZ", "two hex digits"),
            ("family=a%FF", "UTF-8"),
            ("family=a{b=1}", "double-quoted"),
            ("", "required"),
        ] {
            let e = StreamQuery::parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
