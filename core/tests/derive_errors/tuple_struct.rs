use nanometrics::{Counter, Metrics};

#[derive(Metrics)]
struct M(Counter);

fn main() {}
