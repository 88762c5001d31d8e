//! Real time: statistics over recent windows, and watches that tell a
//! component when something changes instead of waiting for a scrape.
//!
//! | file | what it holds |
//! |---|---|
//! | `ticker.rs` | [`Ticker`]: the thread that reads windowed and watched series every tick |
//! | `track.rs` | a tracked series' ring of reads, and the window computed from it |
//! | `window.rs` | [`WindowStats`], [`CounterWindow`], [`GaugeWindow`]: what a window returns |
//! | `selector.rs` | [`Selector`]: `family{label="value"}` |
//! | `rule.rs` | [`Threshold`]: hysteresis levels and a `for` duration, per series |
//! | `watch_state.rs` | the ticker's side of a watch: matching, sampling, framing |
//! | `watch.rs` | [`Registry::watch`](crate::Registry::watch), [`Subscription`], [`Watch`] |
//! | `mailbox.rs` | the bounded queue between the ticker and one subscriber |
//! | `frame.rs` | [`Frame`]: what a watch delivers |
//! | `sink.rs` | [`FrameSink`]: where frames go when they leave the process |
//! | `handles.rs` | `window()` on every metric handle |
//! | `clock.rs` | the real clock and the manual one |
//!
//! # How it works
//!
//! Writers do nothing new: no clock read, no shared write. A [`Ticker`]
//! reads each series someone windows or watches once per tick (1 s by
//! default) and keeps a ring of those cumulative reads; a window is the
//! difference between the read now and the one from the window's length
//! ago (what PromQL's `increase()` and tokio-metrics' intervals do, from
//! the reader's side). A counter that went down, or a series removed and
//! created again under the same labels, counts as a reset: its whole new
//! value is the increase, never a negative one.
//!
//! A window covers whole ticks: its `span` is within half a tick of what
//! was asked once the series has been tracked that long, and the time
//! since tracking began before that.
//!
//! A watch ([`Registry::watch`](crate::Registry::watch)) follows the
//! series a [`Selector`] matches, and every period builds a [`Frame`]
//! (each series' value and window), which goes to its subscriber's
//! [`Subscription`] or callback. A [`Threshold`] turns a watch into an
//! alert: a frame only when a series' alert fires or resolves.
//!
//! ```
//! use std::time::Duration;
//! use nanometrics::{realtime::{Stat, Threshold, Ticker}, Buckets, Registry};
//! let r = Registry::new();
//! let ttft = r.histogram("ttft_seconds", "Time to first token.", Buckets::default())?;
//! let t = Ticker::manual(Duration::from_secs(1));
//! let alerts = r
//!     .watch("ttft_seconds")?
//!     .ticker(&t)
//!     .window(Duration::from_secs(10))
//!     .threshold(Threshold::above(Stat::Quantile(0.9), 0.5).exit(0.4))
//!     .subscribe()?;
//! t.advance(1);
//! for _ in 0..100 { ttft.observe(0.8); }
//! t.advance(1);
//! let frame = alerts.try_recv().expect("p90 went above 0.5 s");
//! assert_eq!(frame.alerts.len(), 1);
//! assert!(alerts.try_recv().is_none());
//! # Ok::<(), nanometrics::Error>(())
//! ```

mod clock;
mod frame;
mod handles;
mod mailbox;
mod rule;
mod selector;
mod sink;
mod ticker;
mod track;
mod watch;
mod watch_state;
mod window;

pub use frame::{Alert, Frame, FrameSeries};
pub use mailbox::Overflow;
pub use rule::{Stat, Threshold, Transition};
pub use selector::Selector;
pub use sink::{FrameSink, SinkError};
pub use ticker::{ticker, Ticker, TickerStats, Windowed, IDLE_EXPIRY, MAX_INTERVAL, MIN_INTERVAL};
pub use track::WindowValue;
pub use watch::{Subscription, Watch, WatchBuilder, WatchStats, DEFAULT_QUANTILES, DEFAULT_QUEUE};
pub use window::{CounterWindow, GaugeWindow, WindowStats};
