use nanometrics::{Counter, Family, Metrics};

#[derive(Metrics)]
struct M {
    /// Build.
    #[metric(info, labels = ["version"])]
    build_info: Family<Counter>,
}

fn main() {}
