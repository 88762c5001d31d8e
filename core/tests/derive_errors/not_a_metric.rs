use nanometrics::Metrics;

#[derive(Metrics)]
struct M {
    /// A plain number.
    requests_total: u64,
}

fn main() {}
