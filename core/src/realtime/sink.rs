//! [`FrameSink`]: where a watch's frames go when they leave the process (a
//! message bus, a socket, a file). A watch with a sink runs it on the
//! watch's own thread, like a callback, and counts its errors.

use super::frame::Frame;

/// An error a sink reports; counted in
/// [`WatchStats::errors`](super::WatchStats::errors).
pub type SinkError = Box<dyn std::error::Error + Send + Sync>;

/// Takes each frame of a watch ([`WatchBuilder::sink`](super::WatchBuilder::sink)).
///
/// `send` runs on the watch's thread, never on a recording thread or the
/// ticker's; while it is slow, the watch's oldest frames are dropped
/// (counted), and the ticker keeps its cadence. An error is counted and the
/// next frame is sent as usual: a sink that must not lose frames keeps its
/// own buffer. Closures `FnMut(&Frame) -> Result<(), SinkError>` are sinks.
///
/// ```
/// use std::time::Duration;
/// use nanometrics::realtime::{Frame, FrameSink, SinkError, Ticker};
///
/// /// Forwards each frame's sequence number to a channel (a bus, in life).
/// struct Forward(std::sync::mpsc::Sender<u64>);
///
/// impl FrameSink for Forward {
///     fn send(&mut self, frame: &Frame) -> Result<(), SinkError> {
///         self.0.send(frame.seq)?;
///         Ok(())
///     }
/// }
///
/// let r = nanometrics::Registry::new();
/// r.gauge("g", "G.")?;
/// let t = Ticker::manual(Duration::from_secs(1));
/// let (tx, rx) = std::sync::mpsc::channel();
/// let watch = r.watch("g")?.ticker(&t).sink(Forward(tx))?;
/// t.advance(1);
/// assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(1));
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub trait FrameSink: Send + 'static {
    /// Takes one frame.
    fn send(&mut self, frame: &Frame) -> Result<(), SinkError>;
}

impl<F> FrameSink for F
where
    F: FnMut(&Frame) -> Result<(), SinkError> + Send + 'static,
{
    fn send(&mut self, frame: &Frame) -> Result<(), SinkError> {
        self(frame)
    }
}
