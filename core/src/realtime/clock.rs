//! [`Clock`]: where a ticker reads the time. The real one reads
//! `Instant` and `SystemTime`; a manual one moves only when told, so a test
//! (or a simulation) decides exactly when each tick happens.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// A monotonic time in nanoseconds since the clock's start, and the wall
/// time it corresponds to.
#[derive(Clone, Debug)]
pub(crate) enum Clock {
    Real {
        start: Instant,
        wall: SystemTime,
    },
    Manual {
        nanos: Arc<AtomicU64>,
        wall: SystemTime,
    },
}

impl Clock {
    pub(crate) fn real() -> Clock {
        Clock::Real {
            start: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    pub(crate) fn manual() -> Clock {
        Clock::Manual {
            nanos: Arc::new(AtomicU64::new(0)),
            wall: SystemTime::now(),
        }
    }

    /// Nanoseconds since the clock started.
    pub(crate) fn now(&self) -> u64 {
        match self {
            Clock::Real { start, .. } => start.elapsed().as_nanos() as u64,
            // Relaxed: the value is the whole message; the ticker's mutex
            // orders it with the samples taken at it.
            Clock::Manual { nanos, .. } => nanos.load(Ordering::Relaxed),
        }
    }

    /// The wall time of `now()`'s value `t`.
    pub(crate) fn wall(&self, t: u64) -> SystemTime {
        let wall = match self {
            Clock::Real { wall, .. } | Clock::Manual { wall, .. } => *wall,
        };
        wall + Duration::from_nanos(t)
    }

    /// Moves a manual clock forward; `false` for the real one.
    pub(crate) fn advance(&self, d: Duration) -> bool {
        match self {
            Clock::Real { .. } => false,
            Clock::Manual { nanos, .. } => {
                let d = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
                // Relaxed: see `now`.
                let _ = nanos.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                    Some(n.saturating_add(d))
                });
                true
            }
        }
    }
}
