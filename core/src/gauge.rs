//! [`Gauge`]: one atomic `f64` per series.

use std::fmt;

use crate::sync::{Arc, AtomicU64, Ordering};

/// A value that is *set* (memory in use, a ratio, a temperature).
///
/// A set cannot be sharded, so a gauge is one atomic per series: `set` is one
/// relaxed store, `add`/`sub` a compare-and-swap loop. For a value that only
/// goes up and down by increments, [`UpDownCounter`](crate::UpDownCounter) is
/// cheaper under contention. NaN and infinities are stored and exported as is.
///
/// ```
/// use nanometrics::Registry;
/// let r = Registry::new();
/// let usage = r.gauge("kv_cache_usage_ratio", "KV cache in use.")?;
/// usage.set(0.5);
/// usage.add(0.25);
/// usage.sub(0.125);
/// assert_eq!(usage.get(), 0.625);
/// # Ok::<(), nanometrics::Error>(())
/// ```
#[derive(Clone)]
pub struct Gauge {
    bits: Arc<AtomicU64>,
}

impl fmt::Debug for Gauge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gauge").field("value", &self.get()).finish()
    }
}

impl Gauge {
    pub(crate) fn create() -> Gauge {
        Gauge {
            bits: Arc::new(AtomicU64::new(0f64.to_bits())),
        }
    }

    /// The cell's address: unique while this handle lives. (Shares no
    /// space with the sharded series' slot indices, which are below 2^20.)
    pub(crate) fn series_id(&self) -> usize {
        Arc::as_ptr(&self.bits) as usize
    }

    /// Sets the value.
    ///
    /// ```
    /// # let g = nanometrics::Registry::new().gauge("x", "x")?;
    /// g.set(-1.5);
    /// assert_eq!(g.get(), -1.5);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    #[inline]
    pub fn set(&self, v: f64) {
        // Relaxed: a gauge is a single value; nothing else is published with it.
        self.bits.store(v.to_bits(), Ordering::Relaxed);
    }

    /// Adds `d` atomically. Floating-point addition rounds: many threads
    /// adding and subtracting fractions may leave a residue like `1e-16`
    /// where exact arithmetic gives 0; count in integers (an
    /// [`UpDownCounter`](crate::UpDownCounter)) when that matters.
    ///
    /// ```
    /// # let g = nanometrics::Registry::new().gauge("x", "x")?;
    /// g.add(2.0);
    /// assert_eq!(g.get(), 2.0);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    #[inline]
    pub fn add(&self, d: f64) {
        let mut cur = self.bits.load(Ordering::Relaxed);
        loop {
            let new = (f64::from_bits(cur) + d).to_bits();
            // Relaxed: only this word's value matters; see `set`.
            match self
                .bits
                .compare_exchange_weak(cur, new, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Adds one (`add(1.0)`), as `prometheus`' and `prometheus-client`'s
    /// gauges do.
    ///
    /// ```
    /// # let g = nanometrics::Registry::new().gauge("x", "x")?;
    /// g.inc();
    /// g.inc();
    /// g.dec();
    /// assert_eq!(g.get(), 1.0);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    #[inline]
    pub fn inc(&self) {
        self.add(1.0);
    }

    /// Subtracts one (`sub(1.0)`).
    ///
    /// ```
    /// # let g = nanometrics::Registry::new().gauge("x", "x")?;
    /// g.dec();
    /// assert_eq!(g.get(), -1.0);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    #[inline]
    pub fn dec(&self) {
        self.add(-1.0);
    }

    /// Subtracts `d` atomically.
    ///
    /// ```
    /// # let g = nanometrics::Registry::new().gauge("x", "x")?;
    /// g.sub(2.0);
    /// assert_eq!(g.get(), -2.0);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    #[inline]
    pub fn sub(&self, d: f64) {
        self.add(-d);
    }

    /// Current value.
    ///
    /// ```
    /// # let g = nanometrics::Registry::new().gauge("x", "x")?;
    /// assert_eq!(g.get(), 0.0);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn get(&self) -> f64 {
        f64::from_bits(self.bits.load(Ordering::Relaxed))
    }
}
