//! [`Buckets`]: the classic (Prometheus `le`) bucket bounds a histogram is
//! declared with.

use crate::error::Error;

/// Upper bounds of a histogram's classic (Prometheus `le`) buckets.
///
/// The `+Inf` bucket is implicit. Constructors never fail; invalid input
/// (NaN, unsorted, non-positive factors) is reported as
/// [`Error::InvalidBuckets`] when the histogram is registered.
///
/// ```
/// use nanometrics::Buckets;
/// assert_eq!(Buckets::exponential(0.001, 2.0, 3).bounds(), Some(&[0.001, 0.002, 0.004][..]));
/// assert_eq!(Buckets::linear(1.0, 1.0, 3).bounds(), Some(&[1.0, 2.0, 3.0][..]));
/// assert_eq!(Buckets::default().bounds().unwrap().len(), 14);
/// assert!(Buckets::explicit(vec![2.0, 1.0]).bounds().is_none()); // unsorted
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Buckets {
    bounds: Result<Vec<f64>, String>,
}

impl Default for Buckets {
    /// Prometheus's default buckets: `.005, .01, .025, .05, .075, .1, .25, .5,
    /// .75, 1, 2.5, 5, 7.5, 10`.
    fn default() -> Self {
        Buckets::explicit(vec![
            0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
        ])
    }
}

impl Buckets {
    /// Explicit upper bounds: finite, strictly increasing. A trailing `+Inf`
    /// is accepted and dropped (it is always implied).
    ///
    /// ```
    /// use nanometrics::Buckets;
    /// assert_eq!(Buckets::explicit(vec![0.1, 1.0, f64::INFINITY]).bounds(), Some(&[0.1, 1.0][..]));
    /// assert!(Buckets::explicit(vec![1.0, f64::NAN]).bounds().is_none());
    /// ```
    pub fn explicit(mut bounds: Vec<f64>) -> Buckets {
        if bounds.last() == Some(&f64::INFINITY) {
            bounds.pop();
        }
        let check = || {
            if let Some(b) = bounds.iter().find(|b| !b.is_finite()) {
                return Err(format!("bound {b} is not finite"));
            }
            if let Some(w) = bounds.windows(2).find(|w| w[0] >= w[1]) {
                return Err(format!(
                    "bounds must be strictly increasing, but {} is followed by {}",
                    w[0], w[1]
                ));
            }
            Ok(())
        };
        Buckets {
            bounds: check().map(|()| bounds),
        }
    }

    /// `count` bounds `start, start*factor, start*factor², …` (Prometheus
    /// `ExponentialBuckets`). Needs `start > 0`, `factor > 1`, `count >= 1`.
    ///
    /// ```
    /// let b = nanometrics::Buckets::exponential(1.0, 10.0, 3);
    /// assert_eq!(b.bounds(), Some(&[1.0, 10.0, 100.0][..]));
    /// ```
    pub fn exponential(start: f64, factor: f64, count: usize) -> Buckets {
        if !(start > 0.0 && start.is_finite() && factor > 1.0 && factor.is_finite() && count >= 1) {
            return Buckets::invalid(format!(
                "exponential buckets need start > 0, factor > 1 and count >= 1 (got start={start}, factor={factor}, count={count})"
            ));
        }
        let mut v = Vec::with_capacity(count);
        let mut b = start;
        for _ in 0..count {
            v.push(b);
            b *= factor;
        }
        Buckets::explicit(v)
    }

    /// `count` bounds `start, start+width, …` (Prometheus `LinearBuckets`).
    /// Needs `width > 0`, `count >= 1`.
    ///
    /// ```
    /// let b = nanometrics::Buckets::linear(0.0, 0.5, 3);
    /// assert_eq!(b.bounds(), Some(&[0.0, 0.5, 1.0][..]));
    /// ```
    pub fn linear(start: f64, width: f64, count: usize) -> Buckets {
        if !(start.is_finite() && width > 0.0 && width.is_finite() && count >= 1) {
            return Buckets::invalid(format!(
                "linear buckets need a finite start, width > 0 and count >= 1 (got start={start}, width={width}, count={count})"
            ));
        }
        Buckets::explicit((0..count).map(|i| start + width * i as f64).collect())
    }

    /// `count` log-spaced bounds from `min` to `max` inclusive. Needs
    /// `0 < min < max` and `count >= 2`.
    ///
    /// ```
    /// let b = nanometrics::Buckets::log(0.001, 10.0, 5);
    /// let v = b.bounds().unwrap();
    /// assert_eq!((v.len(), v[0], v[4]), (5, 0.001, 10.0));
    /// assert!((v[2] - 0.1).abs() < 1e-12);
    /// ```
    pub fn log(min: f64, max: f64, count: usize) -> Buckets {
        if !(min > 0.0 && max > min && max.is_finite() && count >= 2) {
            return Buckets::invalid(format!(
                "log buckets need 0 < min < max and count >= 2 (got min={min}, max={max}, count={count})"
            ));
        }
        let factor = (max / min).powf(1.0 / (count - 1) as f64);
        let mut v: Vec<f64> = (0..count).map(|i| min * factor.powi(i as i32)).collect();
        v[count - 1] = max;
        Buckets::explicit(v)
    }

    fn invalid(msg: String) -> Buckets {
        Buckets { bounds: Err(msg) }
    }

    /// The finite upper bounds, or `None` if the input was invalid.
    ///
    /// ```
    /// assert_eq!(nanometrics::Buckets::linear(1.0, 1.0, 2).bounds(), Some(&[1.0, 2.0][..]));
    /// assert_eq!(nanometrics::Buckets::linear(1.0, -1.0, 2).bounds(), None);
    /// ```
    pub fn bounds(&self) -> Option<&[f64]> {
        self.bounds.as_deref().ok()
    }

    pub(crate) fn validated(&self) -> Result<&[f64], Error> {
        self.bounds
            .as_deref()
            .map_err(|e| Error::InvalidBuckets(e.clone()))
    }
}
