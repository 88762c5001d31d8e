use nanometrics::Metrics;

struct Plain;

#[derive(Metrics)]
struct M {
    plain: Plain,
}

fn main() {}
