use nanometrics::{Counter, Metrics};

#[derive(Metrics)]
#[metrics(namespace = "x")]
struct M {
    /// Requests.
    requests_total: Counter,
}

fn main() {}
