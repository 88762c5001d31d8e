//! What the simulated clients ask for: which model, how long the prompt and
//! the output, and how often a request fails.

/// A fake model: how often it is asked for and how long its requests are.
#[derive(Debug)]
pub struct Model {
    pub name: &'static str,
    /// Relative share of requests.
    pub weight: u64,
    pub prompt_mean: f64,
    pub output_mean: f64,
}

pub const MODELS: [Model; 3] = [
    Model {
        name: "llama-3.1-8b-instruct",
        weight: 6,
        prompt_mean: 512.0,
        output_mean: 160.0,
    },
    Model {
        name: "qwen2.5-coder-7b",
        weight: 3,
        prompt_mean: 1536.0,
        output_mean: 256.0,
    },
    Model {
        name: "mistral-7b-instruct",
        weight: 1,
        prompt_mean: 256.0,
        output_mean: 96.0,
    },
];

/// Requests that fail part-way, per thousand.
pub const ERRORS_PER_MILLE: u64 = 20;
/// Closed loop: each worker always has this many requests running or waiting.
pub const CLIENTS_PER_WORKER: usize = 20;
