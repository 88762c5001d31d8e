//! Hashing and comparing label values on the `with_labels` path.
//!
//! Label values are short (`"llama"`, `"output"`, `"200"`): at that size a
//! general `Hasher` spends most of its time in per-call bookkeeping, and
//! `==` on `str` in a call to `memcmp`. These two functions do the same work
//! inline, eight bytes at a time, with no copy.

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
    fn split_points_matter() {
        assert_ne!(hash_values(1, &["ab", "c"]), hash_values(1, &["a", "bc"]));
        assert_ne!(hash_values(1, &["", "abc"]), hash_values(1, &["abc", ""]));
        assert_ne!(hash_values(1, &["a"]), hash_values(1, &["a", ""]));
        assert_ne!(hash_values(1, &["x"]), hash_values(2, &["x"]));
    }

    proptest! {
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
        fn eq_detects_any_byte_change(a in proptest::collection::vec(any::<u8>(), 1..24), i in any::<usize>(), d in 1u8..) {
            let mut b = a.clone();
            let i = i % b.len();
            b[i] = b[i].wrapping_add(d);
            prop_assert!(!bytes_eq(&a, &b));
            prop_assert!(bytes_eq(&a, &a.clone()));
        }
    }
}
