use nanometrics::{Counter, Metrics};

#[derive(Metrics)]
struct M {
    /// Requests.
    #[metric(labels = ["code"])]
    requests_total: Counter,
}

fn main() {}
