use nanometrics::{Counter, Metrics};

#[derive(Metrics)]
struct M {
    /// Requests.
    #[metric(help = "Requests.")]
    requests_total: Counter,
}

fn main() {}
