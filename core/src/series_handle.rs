//! [`SeriesHandle`]: one series of any type, held by a reader that did not
//! declare it (the ticker of `realtime`), with an identity that tells a
//! re-created series from the one it replaced.

use std::fmt;
use std::sync::Arc;

use crate::shard::Reader;
use crate::snapshot::{MetricKind, Value};

/// Reads a series' current value under a [`Reader`].
type ReadFn = dyn Fn(&Reader) -> Value + Send + Sync;

/// A type-erased handle: holding it keeps the series (and its slots) alive,
/// so its `id` is not reused while it is held.
#[derive(Clone)]
pub(crate) struct SeriesHandle {
    id: usize,
    kind: MetricKind,
    read: Arc<ReadFn>,
}

impl fmt::Debug for SeriesHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeriesHandle")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .finish()
    }
}

impl SeriesHandle {
    /// `id` must be unique among live series (a slot index, an `Arc`
    /// address); `read` must hold the handle it reads.
    pub(crate) fn new(
        id: usize,
        kind: MetricKind,
        read: impl Fn(&Reader) -> Value + Send + Sync + 'static,
    ) -> SeriesHandle {
        SeriesHandle {
            id,
            kind,
            read: Arc::new(read),
        }
    }

    /// Identity of the series while this handle lives.
    pub(crate) fn id(&self) -> usize {
        self.id
    }

    /// The series' metric type.
    pub(crate) fn kind(&self) -> MetricKind {
        self.kind
    }

    /// The current value.
    pub(crate) fn read(&self, r: &Reader) -> Value {
        (self.read)(r)
    }
}
