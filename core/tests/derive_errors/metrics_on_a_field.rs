use nanometrics::{Counter, Metrics};

#[derive(Metrics)]
struct M {
    /// Requests.
    #[metrics(prefix = "x")]
    requests_total: Counter,
}

fn main() {}
