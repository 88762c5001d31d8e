use nanometrics::{Counter, Family, Metrics};

#[derive(Metrics)]
struct M {
    /// Requests.
    requests_total: Family<Counter>,
}

fn main() {}
