use nanometrics::{Gauge, Metrics};

#[derive(Metrics)]
struct Inner {
    /// Up.
    up: Gauge,
}

#[derive(Metrics)]
struct M {
    #[metric(name = "x")]
    inner: Inner,
}

fn main() {}
