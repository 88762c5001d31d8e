//! The command line: `--workers`, `--seconds`, `--port`, `--ttft-slo`, `--help`.

pub const USAGE: &str = "\
Simulated inference-serving loop instrumented with nanometrics.

Usage: cargo run --release --example inference_loop -p nanometrics -- [OPTIONS]

Options:
  --workers N    worker threads, each one simulated engine (1 to 1024; default 4)
  --seconds S    how long to run, in seconds, > 0; decimals allowed (default 10)
  --port P       serve /metrics, /health and /live on 127.0.0.1:P while running
                 (default 9464, or a free port if 9464 is taken; 0 = a free port)
  --ttft-slo S   the planner's TTFT p90 target, in seconds, > 0 (default 0.2)
  -h, --help     print this help
";

#[derive(Debug)]
pub struct Args {
    pub workers: usize,
    pub seconds: f64,
    /// `None`: the default port, falling back to a free one.
    pub port: Option<u16>,
    /// The planner's TTFT p90 target, seconds.
    pub ttft_slo: f64,
}

/// `Ok(None)` means `--help`.
pub fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut args = Args {
        workers: 4,
        seconds: 10.0,
        port: None,
        ttft_slo: 0.2,
    };
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        match flag.as_str() {
            "-h" | "--help" if inline.is_none() => return Ok(None),
            "--workers" | "--seconds" | "--port" | "--ttft-slo" => {
                let value = match inline {
                    Some(v) => v,
                    None => it.next().ok_or_else(|| format!("{flag} needs a value"))?,
                };
                if flag == "--port" {
                    args.port = Some(value.parse::<u16>().map_err(|_| {
                        format!("--port must be a port number from 0 to 65535, got {value:?}")
                    })?);
                } else if flag == "--ttft-slo" {
                    args.ttft_slo = match value.parse::<f64>() {
                        Ok(s) if s > 0.0 && s <= 3600.0 => s,
                        _ => {
                            return Err(format!(
                                "--ttft-slo must be a number of seconds greater than 0 (at most 3600), got {value:?}"
                            ))
                        }
                    };
                } else if flag == "--workers" {
                    args.workers = match value.parse::<usize>() {
                        Ok(n) if (1..=1024).contains(&n) => n,
                        _ => {
                            return Err(format!(
                                "--workers must be a whole number from 1 to 1024, got {value:?}"
                            ))
                        }
                    };
                } else {
                    args.seconds = match value.parse::<f64>() {
                        Ok(s) if s > 0.0 && s <= 86_400.0 => s,
                        _ => {
                            return Err(format!(
                                "--seconds must be a number of seconds greater than 0 (at most 86400), got {value:?}"
                            ))
                        }
                    };
                }
            }
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    Ok(Some(args))
}
