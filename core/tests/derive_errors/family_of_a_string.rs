use nanometrics::{Family, Metrics};

#[derive(Metrics)]
struct M {
    /// Names.
    #[metric(labels = ["a"])]
    names: Family<String>,
}

fn main() {}
