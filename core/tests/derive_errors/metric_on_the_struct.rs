use nanometrics::{Counter, Metrics};

#[derive(Metrics)]
#[metric(name = "x")]
struct M {
    /// Requests.
    requests_total: Counter,
}

fn main() {}
