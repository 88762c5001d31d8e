use nanometrics::Metrics;

#[derive(Metrics)]
enum M {
    A,
}

fn main() {}
