//! Environment variables for tests: the configurations that read them
//! take a `var` function instead of the process's environment.

/// A `var` function answering from `pairs`.
pub(crate) fn vars(
    pairs: &'static [(&'static str, &'static str)],
) -> impl Fn(&str) -> Option<String> {
    move |k| {
        pairs
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    }
}
