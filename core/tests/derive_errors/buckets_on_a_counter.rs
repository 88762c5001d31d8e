use nanometrics::{Counter, Metrics};

#[derive(Metrics)]
struct M {
    /// Requests.
    #[metric(buckets = exponential(0.1, 2.0, 4))]
    requests_total: Counter,
}

fn main() {}
