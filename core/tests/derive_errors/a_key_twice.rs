use nanometrics::{Counter, Metrics};

#[derive(Metrics)]
struct M {
    /// Requests.
    #[metric(name = "a", name = "b")]
    requests_total: Counter,
}

fn main() {}
