//! The `syndic` command line: one module per subcommand, the work done by the library.

/// Appends a line to a `String` (the text a subcommand prints, written at once by
/// [`print_stdout`]).
macro_rules! outln {
    ($out:ident) => {
        $out.push('\n')
    };
    ($out:ident, $($arg:tt)*) => {{
        $out.push_str(&format!($($arg)*));
        $out.push('\n');
    }};
}

mod args;
mod dedup;
mod distributed;
mod eval;
mod index;
mod params;
mod progress;
mod scan;
mod serve;

use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::Duration;

use clap::{Parser, Subcommand};
use syndic::signal::Cancel;

/// Find exact and near-duplicate documents (syndicated copies) in text corpora.
///
/// Exit codes: 0 done; 1 an error in the input or output (the message names the file and line,
/// or the path, and what is wrong); 2 a usage error (unknown option, parameter out of range);
/// 130 interrupted (Ctrl-C or SIGTERM; no output is left under its final name).
const EXIT_CODES: &str = "Exit codes: 0 done; 1 an error in the input or output (the message \
names the file and line, or the path, and what is wrong); 2 a usage error; 130 interrupted.";

#[derive(Parser)]
#[command(
    name = "syndic",
    version,
    about,
    long_about = None,
    propagate_version = true,
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const SCAN_EXAMPLES: &str = "Examples:
  syndic scan corpus.jsonl.gz -o report.json
  syndic scan shards/ -g '*.jsonl.zst' -o report.json
  syndic scan news.csv --text-field body --id-field url -o report.json
  syndic scan news.jsonl --on-error skip --max-days 3 --annotations lines.jsonl -o report.json
  syndic scan big.jsonl.zst --memory-limit 4G -o report.json
  syndic scan shards/ -o report.json --hosts hosts.txt --process 0
  syndic scan shards/ -o report.json --local 4 -j 2
  cat part-*.jsonl | syndic scan - > report.json";

const DEDUP_EXAMPLES: &str = "Examples:
  syndic dedup corpus.jsonl -o clean.jsonl
  syndic dedup corpus.jsonl.gz -o clean.jsonl.zst --strip-boilerplate --report report.json
  syndic dedup corpus.jsonl -o annotated.jsonl --annotate
  syndic dedup news.jsonl --keep earliest --max-days 3 -o clean.jsonl
  syndic dedup shards/ -o clean.parquet --removed removed.parquet
  syndic dedup documents/ -o clean.jsonl.gz --attributes attributes/syndic";

#[derive(Subcommand)]
enum Command {
    /// Scan a corpus and write a JSON report of duplicate clusters and boilerplate.
    #[command(after_help = SCAN_EXAMPLES)]
    Scan(scan::Args),
    /// Write the corpus with one document per cluster kept (or every record annotated).
    #[command(after_help = DEDUP_EXAMPLES)]
    Dedup(dedup::Args),
    /// Score a report against ground truth: story labels or labelled pairs.
    #[command(after_help = eval::EXAMPLES)]
    Eval(eval::Args),
    /// An incremental index on disk: add batches, check new documents, export the report.
    #[command(after_help = index::EXAMPLES)]
    Index(index::Args),
    /// Serve an index over HTTP: POST /check, /add, /delete, /expire; GET /stats, /healthz.
    #[command(after_help = serve::EXAMPLES)]
    Serve(serve::Args),
    /// Show the LSH banding a scan would use and its S-curve.
    #[command(after_help = params::EXAMPLES)]
    Params(params::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = ctrlc_handler();
    panic_hook();
    let result = match cli.command {
        Command::Scan(a) => scan::run(a),
        Command::Dedup(a) => dedup::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Params(a) => params::run(a),
        Command::Index(a) => index::run(a),
        Command::Serve(a) => serve::run(a),
    };
    match result {
        // Finished (every output complete under its final name), even if Ctrl-C came meanwhile.
        Ok(()) => ExitCode::SUCCESS,
        // Whatever the error, a run that was asked to stop was interrupted: an output cut short
        // by the handler's removal of temporary files fails for that reason.
        Err(_) if cancel().is_cancelled() => exit_interrupted(),
        Err(e) => {
            eprintln!("syndic: error: {}", message(&e));
            exit_code(&e)
        }
    }
}

/// Writes `text` to standard output. A reader that has gone (`syndic params | head`) is not an
/// error: the output was for it, and it has what it wanted.
fn print_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.map_err(|e| anyhow::anyhow!("cannot write to standard output: {e}")),
    }
}

/// The error and its causes, each cause once: the library's messages already quote their source.
/// Errors that an option can fix end with the option to use.
fn message(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg.push_str(": ");
            msg.push_str(&c);
        }
    }
    if let Some(hint) = e.downcast_ref::<syndic::Error>().and_then(hint) {
        msg.push_str("; ");
        msg.push_str(&hint);
    }
    msg
}

/// The options that fix or work around an error of the library, which names none.
fn hint(e: &syndic::Error) -> Option<String> {
    use syndic::error::RecordError as R;
    use syndic::read::FieldRole;
    let skip = "or skip bad records and go on with --on-error skip";
    match e {
        syndic::Error::Record { kind, .. } => Some(match kind {
            R::MissingText { .. } | R::TextNotString(_) => {
                format!("name the text field with --text-field, {skip}")
            }
            R::DuplicateId { .. } => {
                "name another id field with --id-field, or skip repeats with --on-error skip".into()
            }
            // Nothing after a broken stream can be read: skipping it keeps what came before.
            _ => "to skip bad records and go on, use --on-error skip".into(),
        }),
        // The library names a parameter as its builder does (`num_perm`); the option is
        // `--num-perm`.
        syndic::Error::Param(m) => {
            let name: String = m
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            let known = [
                "shingle",
                "num_perm",
                "threshold",
                "containment",
                "max_bucket",
            ];
            if name == "bands" {
                return Some("set them with --bands and --rows, within --num-perm".into());
            }
            known
                .contains(&name.as_str())
                .then(|| format!("set it with --{}", name.replace('_', "-")))
        }
        syndic::Error::FieldExists { .. } => Some(
            "put a prefix before the names of the fields written with --annotate-prefix (e.g. \
             --annotate-prefix syndic_)"
                .into(),
        ),
        syndic::Error::MissingField { role, .. } => Some(format!(
            "name the {role} field with --{role}-field{}",
            match role {
                FieldRole::Date => " (--keep earliest and --max-days need dates)",
                _ => "",
            }
        )),
        _ => None,
    }
}

/// 2 for usage errors (bad parameters), 1 for everything else.
fn exit_code(e: &anyhow::Error) -> ExitCode {
    match e.downcast_ref::<syndic::Error>() {
        Some(syndic::Error::Param(_) | syndic::Error::MissingField { .. }) => ExitCode::from(2),
        Some(syndic::Error::Interrupted) => ExitCode::from(130),
        _ => ExitCode::from(1),
    }
}

/// A panic is a bug: say so, and remove temporary outputs before the usual message.
fn panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if syndic::signal::panic_is_caught() {
            return; // a damaged input's decoder failed: the library reports it as an error
        }
        syndic::signal::remove_temps();
        // A run over several processes whose peer stopped: timely's threads stop by panicking,
        // and the run's error names the peer.
        if std::thread::current()
            .name()
            .is_some_and(|n| n.starts_with("timely:"))
        {
            return;
        }
        eprintln!("syndic: internal error (a bug in syndic; please report it with the input that caused it)");
        default(info);
    }));
}

/// The run's cancellation token (one run per process), which the progress bars answer the
/// library's checks with.
pub fn cancel() -> &'static Cancel {
    static TOKEN: OnceLock<Cancel> = OnceLock::new();
    TOKEN.get_or_init(Cancel::new)
}

/// How long the run has to stop by itself after Ctrl-C before the process exits anyway: a run
/// blocked reading standard input, or busy in a stage that is not checked often, does not stop
/// at its next check soon enough.
const GRACE: Duration = Duration::from_secs(2);

/// On Ctrl-C or SIGTERM: cancel the run (which then returns `Error::Interrupted` to `main`);
/// if it has not stopped after [`GRACE`], remove temporary outputs and exit all the same.
fn ctrlc_handler() -> Result<(), ctrlc::Error> {
    ctrlc::set_handler(|| {
        cancel().cancel();
        std::thread::sleep(GRACE);
        exit_interrupted();
    })
}

/// Removes temporary outputs and exits with the conventional status of an interrupted run. The
/// list of temporary files stays held until the exit, so none made meanwhile is left behind.
fn exit_interrupted() -> ! {
    let _held = syndic::signal::remove_temps_and_hold();
    eprintln!("\nsyndic: interrupted; outputs in progress were removed");
    std::process::exit(130)
}
