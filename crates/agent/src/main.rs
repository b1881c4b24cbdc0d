//! `vitrina-agent --server URL --token-file FILE --state-dir DIR --run-dir DIR`

use std::path::PathBuf;
use std::process::ExitCode;

use vitrina_agent::{log, Settings};

const USAGE: &str =
    "usage: vitrina-agent --server URL [--token-file FILE] [--state-dir DIR] [--run-dir DIR]
  --server URL        the config service (e.g. http://10.0.0.1:8080)
  --token-file FILE   the host's agent token (default /etc/vitrina-agent/token)
  --state-dir DIR     journal, scripts and results (default /var/lib/vitrina-agent)
  --run-dir DIR       emptied by every boot (default /run/vitrina-agent): a marker there
                      tells a restart after the agent died from a clean start
  --script-token-file FILE   keep the host's script token there (`token_file_path`)
  --script-token-rotate      rotate it on the server's period (`token_rotate`)
  --script-token-owner USER, --script-token-group GROUP   the file's owner and group";

/// What the command line asks for.
enum Parsed {
    Run(Settings),
    /// `--version` or `--help`: printed, nothing to run.
    Done,
}

fn parse() -> Result<Parsed, String> {
    let mut server = None;
    let mut token_file = PathBuf::from("/etc/vitrina-agent/token");
    let mut state_dir = PathBuf::from("/var/lib/vitrina-agent");
    let mut run_dir = PathBuf::from("/run/vitrina-agent");
    let mut script_token: Option<vitrina_agent::script_token::TokenFile> = None;
    let mut rotate = false;
    let (mut owner, mut group) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("`{name}` needs a value"));
        match a.as_str() {
            "--server" => server = Some(value("--server")?),
            "--token-file" => token_file = PathBuf::from(value("--token-file")?),
            "--state-dir" => state_dir = PathBuf::from(value("--state-dir")?),
            "--run-dir" => run_dir = PathBuf::from(value("--run-dir")?),
            "--script-token-file" => {
                script_token = Some(vitrina_agent::script_token::TokenFile {
                    path: PathBuf::from(value("--script-token-file")?),
                    ..Default::default()
                })
            }
            "--script-token-rotate" => rotate = true,
            "--script-token-owner" => owner = Some(value("--script-token-owner")?),
            "--script-token-group" => group = Some(value("--script-token-group")?),
            "--version" => {
                println!("vitrina-agent {}", env!("CARGO_PKG_VERSION"));
                return Ok(Parsed::Done);
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(Parsed::Done);
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Parsed::Run(Settings {
        server: server.ok_or("`--server` is required")?,
        token_file,
        state_dir,
        run_dir,
        script_token: script_token.map(|f| vitrina_agent::script_token::TokenFile {
            rotate,
            owner,
            group,
            ..f
        }),
    }))
}

fn main() -> ExitCode {
    let settings = match parse() {
        Ok(Parsed::Run(s)) => s,
        Ok(Parsed::Done) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(vitrina_agent::agent::run(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log(format!("error: {e}"));
            ExitCode::from(1)
        }
    }
}
