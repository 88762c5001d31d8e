use nanometrics::Metrics;

#[derive(Metrics)]
struct M<T> {
    inner: T,
}

fn main() {}
