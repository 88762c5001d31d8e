//! Per-thread sharded storage: the only module with `unsafe`.
//!
//! | file | what it holds |
//! |---|---|
//! | `slots.rs` | the slot space: [`Chunk`], [`SlotRef`], single-writer slot updates |
//! | `block.rs` | `ThreadBlock`: one thread's table of lazily allocated chunks |
//! | `state.rs` | `State`, behind the state lock: linked blocks, retired totals, range allocation, the exit fold |
//! | `owner.rs` | the thread-local `BlockOwner` and [`with_chunk`], the writer's fast path |
//! | `lease.rs` | [`Lease`] (a series' range) and [`LeaseArc`] (a handle's reference, parked on drop) |
//! | `reader.rs` | [`Reader`], the read view |
//! | `staging.rs` | the histogram staging + seqlock protocol, writer and reader |
//! | `exemplar_slots.rs` | `ExemplarSlots`: each bucket's latest exemplar, swapped in wait-free |
//!
//! # Layout
//!
//! Every sharded series (a counter, an up-down counter, a float counter, a
//! histogram or summary) owns a
//! contiguous range of *slots* in one process-wide slot space. Each thread that
//! updates a series owns a `ThreadBlock`: a table of lazily allocated
//! [`Chunk`]s of `CHUNK_SLOTS` `AtomicU64`s, so a counter series costs 8 bytes per
//! live thread that touched its chunk (the Linux per-CPU counter layout), not a
//! 64-byte padded cell per series per thread. A range never straddles a chunk,
//! so an update is: TLS pointer → chunk pointer → slot.
//!
//! # Protocol
//!
//! * **Writers** (the owning thread only) update their own slots with a relaxed
//!   load and a relaxed store: no read-modify-write, no lock, no allocation
//!   (except the thread's first touch of a 4 KiB chunk). Histograms stage
//!   each observation (a store of the value, then a Release store of the
//!   stage's length) and bracket the multi-word fold of a full stage into
//!   their counter bytes with a per-series, per-thread sequence counter (a
//!   seqlock), so a reader never sees a half-made fold; readers bin the
//!   staged values they copied themselves. A histogram's fold allocates
//!   the thread's counter bytes the first time (`narrow.rs`), and a wide
//!   page of the series the first time a byte carries into it
//!   (`totals.rs`).
//! * **Readers** take the state lock, then sum every live block's slot plus the
//!   *retired* chunks. Only readers, registering threads, exiting threads and
//!   slot allocation take that lock; writers never do.
//! * **Thread exit** (the TLS destructor) takes the lock, folds the thread's
//!   live ranges into the retired chunks and unlinks its block, in one critical
//!   section: a reader sees the thread's counts either in its block or in the
//!   retired totals, never both and never neither. An update made after the
//!   TLS value is gone (from another thread-local's destructor) takes the lock
//!   and lands directly in the retired chunks.
//! * **Slot reuse**: a range is released when the last reference to its series
//!   goes: a handle, or a handle's count parked in a thread's slot (see
//!   [`LeaseArc`]). No handle means no writer can touch it again, so the releaser zeroes
//!   it in every block under the lock before handing it out again: a re-created
//!   series starts at zero.

mod block;
mod exemplar_slots;
mod lease;
mod narrow;
mod owner;
mod reader;
mod slots;
pub(crate) mod staging;
mod state;
mod totals;

pub(crate) use exemplar_slots::live_records as live_exemplar_records;
pub(crate) use lease::{release_parked, Lease, LeaseArc};
pub(crate) use owner::{live_threads, with_chunk};
pub(crate) use reader::{reader, Reader};
pub(crate) use slots::{add_f64, add_u64, slot_index, RangeKind, SlotRef};
pub(crate) use totals::HistTotals;
