use nanometrics::{Counter, Metrics};

#[derive(Metrics)]
struct M {
    requests_total: Counter,
}

fn main() {}
