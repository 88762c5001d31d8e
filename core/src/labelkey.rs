//! Hashing and comparing label values on the `with_labels` path.
//!
//! Label values are short (`"llama"`, `"output"`, `"200"`): at that size a
//! general `Hasher` spends most of its time in per-call bookkeeping, and
//! `==` on `str` in a call to `memcmp`. The functions here do the same work
//! inline, eight bytes at a time, with no copy: [`hash_values`] (seeded, for
//! a family's shared table), [`quick_hash`] (for a thread's lookup cache,
//! whose hits compare the values) and [`values_eq`].

/// Folded 64×64→128 multiply: the mixing step of foldhash and wyhash.
#[inline(always)]
fn fold(x: u64, k: u64) -> u64 {
    let m = (x as u128).wrapping_mul(k as u128);
    (m as u64) ^ ((m >> 64) as u64)
}

const K0: u64 = 0x243F_6A88_85A3_08D3;
const K1: u64 = 0x1319_8A2E_0370_7344;

/// The first 8 bytes of `b` as a little-endian word.
#[inline(always)]
fn word(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// A word that determines `b` (at most 8 bytes) among byte strings of the
/// same length, read with at most two loads and no copy: two overlapping
/// 4-byte loads for 4..=8 bytes, the first, middle and last byte for 1..=3
/// (the small-input read of wyhash).
#[inline(always)]
fn read_small(b: &[u8]) -> u64 {
    let n = b.len();
    let w4 = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes")) as u64;
    if n >= 4 {
        w4(0) | (w4(n - 4) << 32)
    } else if n > 0 {
        ((b[0] as u64) << 16) | ((b[n / 2] as u64) << 8) | b[n - 1] as u64
    } else {
        0
    }
}

/// Hash of a label-value list under `seed`. Each value's length is mixed in
/// before its bytes, so `["ab", "c"]` and `["a", "bc"]` hash apart (and are
/// told apart by [`values_eq`] in any case).
#[inline]
pub(crate) fn hash_values<S: AsRef<str>>(seed: u64, values: &[S]) -> u64 {
    let mut h = seed;
    for v in values {
        let b = v.as_ref().as_bytes();
        h = fold(h ^ b.len() as u64, K0);
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            h = fold(h ^ word(c, 0), K1);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            h = fold(h ^ read_small(rest), K1);
        }
    }
    fold(h, K0)
}

/// A label value's bytes folded into two words, and its length: all of its
/// bytes as they are when it has at most 16 (`read_small` up to 8, the first
/// and last 8 up to 16, at most two loads), so two values of at most 16 bytes
/// are equal exactly when their samples are; past 16 bytes every 8-byte word
/// between the first and the last is folded in too, so values that differ in
/// any one byte have different samples at every length (both tested), which
/// makes it a good input for [`quick_hash`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ValueWords {
    len: usize,
    lo: u64,
    hi: u64,
}

impl ValueWords {
    /// Equal to no sample of a value (no value is `usize::MAX` bytes long).
    const NONE: ValueWords = ValueWords {
        len: usize::MAX,
        lo: 0,
        hi: 0,
    };

    /// Whether the sample determines its value (at most 16 bytes).
    #[inline(always)]
    pub(crate) fn is_exact(&self) -> bool {
        self.len <= 16
    }

    #[inline(always)]
    fn of_bytes(b: &[u8]) -> ValueWords {
        let len = b.len();
        let (lo, hi) = if len <= 8 {
            (read_small(b), 0)
        } else {
            let mut lo = word(b, 0);
            // Past 16 bytes, the words between the first and the last (which
            // reaches back over any gap): names such as "llama-3.1-8b-instruct"
            // and "llama-3.2-8b-instruct" differ only there. Rotated by their
            // position, so two equal words less than 64 bytes apart do not
            // cancel (the rotation repeats every 8 words: further apart they
            // can, which costs a cache miss, never a wrong series).
            let mut i = 8;
            while i + 8 < len {
                lo ^= word(b, i).rotate_left((i as u32).wrapping_mul(3));
                i += 8;
            }
            (lo, word(b, len - 8))
        };
        ValueWords { len, lo, hi }
    }
}

/// A cheap hash of a label-value list for a thread's lookup cache, whose
/// entries are confirmed by comparing the values, so a collision costs a
/// miss, never a wrong series. Each value's [`ValueWords`] is mixed by its own
/// multiply, so the values hash in parallel rather than in the chain of
/// dependent multiplies of [`hash_values`] (two or more per value): this
/// is one multiply deep.
#[inline]
pub(crate) fn quick_hash<S: AsRef<str>>(values: &[S]) -> u64 {
    quick_hash_of(
        values
            .iter()
            .map(|v| ValueWords::of_bytes(v.as_ref().as_bytes())),
    )
}

/// [`quick_hash`] of the values with these samples.
#[inline(always)]
pub(crate) fn quick_hash_of(samples: impl IntoIterator<Item = ValueWords>) -> u64 {
    let mut h = 0u64;
    let mut k = K0;
    for s in samples {
        let len = (s.len as u64).wrapping_add(1).rotate_right(7);
        h ^= fold(s.lo ^ s.hi.rotate_left(29) ^ len, k);
        // A different odd multiplier per position: ["a", "b"] and
        // ["b", "a"] land apart.
        k = k.wrapping_add(K1) | 1;
    }
    h
}

/// Label values a cache entry holds as [`ValueWords`] ([`EntryWords`]).
pub(crate) const HELD_VALUES: usize = 4;

/// The [`ValueWords`] of a cache entry's first [`HELD_VALUES`] label values, so
/// that a hit compares words inside the entry, already loaded, with the
/// query's samples, already computed for its hash, instead of following
/// the stored strings (three dependent loads) and reading the query again.
/// A value longer than 16 bytes, which its sample does not determine, is
/// held as one that matches no query sample.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EntryWords([ValueWords; HELD_VALUES]);

impl EntryWords {
    pub(crate) fn of<S: AsRef<str>>(values: &[S]) -> EntryWords {
        let mut held = [ValueWords::NONE; HELD_VALUES];
        for (h, v) in held.iter_mut().zip(values) {
            let s = ValueWords::of_bytes(v.as_ref().as_bytes());
            if s.is_exact() {
                *h = s;
            }
        }
        EntryWords(held)
    }

    /// Whether the query whose samples these are equals the held values.
    /// Exact when every query sample [`is_exact`](ValueWords::is_exact) (a
    /// held sample then matches only the same value) and `N` is the
    /// family's label count.
    #[inline(always)]
    pub(crate) fn matches<const N: usize>(&self, query: &[ValueWords; N]) -> bool {
        const { assert!(N <= HELD_VALUES) };
        let mut diff = 0;
        for (q, h) in query.iter().zip(&self.0) {
            diff |= (q.lo ^ h.lo) | (q.hi ^ h.hi) | (q.len ^ h.len) as u64;
        }
        diff == 0
    }
}

/// The samples of `N` label values: computed once, for the cache key and
/// for [`EntryWords::matches`].
#[inline(always)]
pub(crate) fn value_words<S: AsRef<str>, const N: usize>(values: &[S; N]) -> [ValueWords; N] {
    std::array::from_fn(|i| ValueWords::of_bytes(values[i].as_ref().as_bytes()))
}

/// `a == b` for byte strings, inline for the short ones labels usually are.
#[inline(always)]
fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n <= 8 {
        read_small(a) == read_small(b)
    } else if n <= 16 {
        word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8)
    } else {
        a == b
    }
}

/// Whether stored label values equal the queried ones, element by element.
#[inline]
pub(crate) fn values_eq<S: AsRef<str>>(stored: &[Box<str>], query: &[S]) -> bool {
    stored.len() == query.len()
        && stored
            .iter()
            .zip(query)
            .all(|(a, b)| bytes_eq(a.as_bytes(), b.as_ref().as_bytes()))
}

#[cfg(all(test, not(nanometrics_loom)))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn quick_hash_tells_positions_and_lengths_apart() {
        let q = |v: &[&str]| quick_hash(v);
        assert_ne!(q(&["a", "b"]), q(&["b", "a"]));
        assert_ne!(q(&["ab", "c"]), q(&["a", "bc"]));
        assert_ne!(q(&["a"]), q(&["a", ""]));
        assert_ne!(q(&["llama", "output"]), q(&["llama", "input"]));
        // Longer than 16 bytes, equal in the first and last 8.
        assert_ne!(
            q(&["llama-3.1-8b-instruct", "output"]),
            q(&["llama-3.2-8b-instruct", "output"])
        );
        assert_ne!(
            q(&["prefix--aaaaaaaa-bbbbbbbb-cccccccc--suffix"]),
            q(&["prefix--aaaaaaaa-bbbbbbbX-cccccccc--suffix"])
        );
        let owned = [String::from("llama"), String::from("output")];
        assert_eq!(q(&["llama", "output"]), quick_hash(&owned));
    }

    #[test]
    fn split_points_matter() {
        assert_ne!(hash_values(1, &["ab", "c"]), hash_values(1, &["a", "bc"]));
        assert_ne!(hash_values(1, &["", "abc"]), hash_values(1, &["abc", ""]));
        assert_ne!(hash_values(1, &["a"]), hash_values(1, &["a", ""]));
        assert_ne!(hash_values(1, &["x"]), hash_values(2, &["x"]));
    }

    /// Values that share their first, middle and last bytes, their first or
    /// last 8, or all but one middle byte.
    const NEAR: [&str; 11] = [
        "",
        "a",
        "aa",
        "aaa",
        "aba",
        "0123456789abcdef",
        "0123456789abcdeX",
        "X123456789abcdef",
        "0123456789abcdeff",
        "llama-3.1-8b-instruct",
        "llama-3.2-8b-instruct",
    ];

    fn held_matches<const N: usize>(stored: &[&str], query: &[&str]) -> Option<bool> {
        let q: &[&str; N] = query.try_into().unwrap();
        let samples = value_words(q);
        samples
            .iter()
            .all(ValueWords::is_exact)
            .then(|| EntryWords::of(stored).matches(&samples))
    }

    proptest! {
        /// A hit on a held entry compares samples only: exact whenever the
        /// query's values are short, whatever the stored ones are.
        #[test]
        fn held_matches_exactly_the_same_values(
            n in 1usize..=4,
            a in proptest::collection::vec(0..NEAR.len(), 4),
            b in proptest::collection::vec(0..NEAR.len(), 4),
        ) {
            let a: Vec<&str> = a[..n].iter().map(|&i| NEAR[i]).collect();
            let b: Vec<&str> = b[..n].iter().map(|&i| NEAR[i]).collect();
            let m = match n {
                1 => held_matches::<1>(&a, &b),
                2 => held_matches::<2>(&a, &b),
                3 => held_matches::<3>(&a, &b),
                _ => held_matches::<4>(&a, &b),
            };
            if let Some(m) = m {
                prop_assert_eq!(m, a == b, "{:?} vs {:?}", a, b);
            }
        }

        #[test]
        fn eq_matches_std(a in ".{0,40}", b in ".{0,40}", same in any::<bool>()) {
            let b = if same { a.clone() } else { b };
            let stored: Vec<Box<str>> = vec![a.as_str().into()];
            prop_assert_eq!(values_eq(&stored, &[b.as_str()]), a == b);
            if a == b {
                prop_assert_eq!(hash_values(7, &[&a]), hash_values(7, &[&b]));
            }
        }

        #[test]
        fn eq_detects_any_byte_change(a in proptest::collection::vec(any::<u8>(), 1..80), i in any::<usize>(), d in 1u8..) {
            let mut b = a.clone();
            let i = i % b.len();
            b[i] = b[i].wrapping_add(d);
            prop_assert!(!bytes_eq(&a, &b));
            // Any one byte, at any length, changes the cache key's input.
            prop_assert_ne!(ValueWords::of_bytes(&a), ValueWords::of_bytes(&b));
            prop_assert!(bytes_eq(&a, &a.clone()));
        }
    }
}
