//! `syndic scan --hosts FILE --process I` and `--local N`: one scan over several processes.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use syndic::distributed::{self, Cluster};
use syndic::read::Corpus;
use syndic::{pipeline, report};

use crate::args::Pipeline;
use crate::progress::Bars;

#[derive(clap::Args)]
pub struct DistArgs {
    /// Run as one process of several (on this host or others): FILE lists one host:port per
    /// process, process 0 first. Start every process with the same inputs, options and FILE,
    /// each with its own --process; each reads its share of the inputs' bytes (whole files,
    /// and a large JSONL file in parts cut at line starts), and process 0 writes the report
    /// (the same as one process would write, outside "run").
    #[arg(
        long,
        value_name = "FILE",
        requires = "process",
        help_heading = "Several processes"
    )]
    pub hosts: Option<PathBuf>,
    /// This process's line in the hosts file, from 0.
    #[arg(
        long,
        value_name = "I",
        requires = "hosts",
        help_heading = "Several processes"
    )]
    pub process: Option<usize>,
    /// Run N processes of this scan on this host (on free loopback ports), each with -j
    /// threads; exits non-zero if any fails.
    #[arg(long, value_name = "N", conflicts_with = "hosts", value_parser = clap::value_parser!(u16).range(1..), help_heading = "Several processes")]
    pub local: Option<u16>,
    /// Seconds to wait for every other process to be up and connected.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 30,
        help_heading = "Several processes"
    )]
    pub connect_timeout: u64,
}

impl DistArgs {
    /// The cluster of a `--hosts` run.
    pub fn cluster(&self) -> Result<Option<Cluster>> {
        let (Some(hosts), Some(process)) = (&self.hosts, self.process) else {
            return Ok(None);
        };
        let mut c = Cluster::from_hosts_file(hosts, process)?;
        c.connect_timeout = Duration::from_secs(self.connect_timeout);
        Ok(Some(c))
    }
}

/// This process's part of a distributed scan; process 0 gets the scan and its report.
#[allow(clippy::type_complexity)]
pub fn scan(
    p: &Pipeline,
    cluster: &Cluster,
) -> Result<Option<(Corpus, pipeline::Scan, pipeline::Config, report::Report)>> {
    p.init_threads()?;
    let cfg = p.config()?;
    let t0 = Instant::now();
    let corpus = Corpus::open_with(&p.inputs, &p.folder_filter()?)?;
    let bars = Bars::new(p.quiet);
    let out = distributed::scan_within(cluster, &corpus, &cfg, p.budget(), &bars)?;
    note_bytes(cluster, &out);
    let Some(scan) = out.scan else {
        return Ok(None);
    };
    let rep = report_of(p, &cfg, &scan, t0);
    Ok(Some((corpus, scan, cfg, rep)))
}

/// The line each process prints: what it read and sent (and, on process 0, how many final
/// signatures it received to cluster).
pub fn note_bytes(cluster: &Cluster, out: &distributed::Outcome) {
    let gathered = if cluster.process == 0 {
        format!(
            "; {} final signatures gathered to cluster",
            out.signatures_gathered
        )
    } else {
        String::new()
    };
    eprintln!(
        "syndic: process {} of {}: {} documents read, {} bytes sent to the other processes ({:.0} per document read){gathered}",
        cluster.process,
        cluster.hosts.len(),
        out.documents,
        out.bytes_sent,
        out.bytes_sent as f64 / out.documents.max(1) as f64
    );
    let steps: Vec<String> = out
        .sent_by_step
        .iter()
        .map(|(step, b)| (step, *b as f64 / out.documents.max(1) as f64))
        .filter(|(_, b)| *b >= 0.5)
        .map(|(step, b)| format!("{step} {b:.0}"))
        .collect();
    eprintln!(
        "syndic: process {}: bytes sent per document read, by step: {}",
        cluster.process,
        steps.join(", ")
    );
}

/// The report of process 0's scan.
pub fn report_of(
    p: &Pipeline,
    cfg: &pipeline::Config,
    scan: &pipeline::Scan,
    t0: Instant,
) -> report::Report {
    let run = report::RunInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        threads: rayon::current_num_threads(),
        seconds: t0.elapsed().as_secs_f64(),
        stages: scan.timings.clone(),
        memory_limit: p.memory_limit,
        spilled: scan.spilled.clone(),
    };
    report::build(scan, cfg, run)
}

/// `--local N`: runs this command as N processes of this binary on loopback ports (a hosts
/// file in a temporary folder), and waits for them all. When one fails, the others stop by
/// themselves (their peer is gone); any left after a minute are killed.
pub fn run_local(n: u16, quiet: bool) -> Result<()> {
    let n = n as usize;
    let dir = tempfile::tempdir().context("cannot make a temporary folder for the hosts file")?;
    // Free ports: bound, noted, released just before the processes bind them.
    let ports: Vec<u16> = {
        let listeners: Vec<std::net::TcpListener> = (0..n)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
            .collect::<std::io::Result<_>>()
            .context("cannot find free loopback ports")?;
        listeners
            .iter()
            .map(|l| l.local_addr().map(|a| a.port()))
            .collect::<std::io::Result<_>>()?
    };
    let hosts = dir.path().join("hosts");
    let text: String = ports.iter().map(|p| format!("127.0.0.1:{p}\n")).collect();
    std::fs::write(&hosts, text).context("cannot write the hosts file")?;
    let exe = std::env::current_exe().context("cannot find this program to start it again")?;
    let args = without_local(std::env::args_os().skip(1).collect());
    let mut children: Vec<Child> = Vec::with_capacity(n);
    for i in 0..n {
        let mut cmd = Command::new(&exe);
        cmd.args(&args)
            .arg("--hosts")
            .arg(&hosts)
            .arg("--process")
            .arg(i.to_string());
        if i > 0 && !quiet {
            // One set of progress bars (process 0's).
            cmd.arg("--quiet");
        }
        match cmd.spawn() {
            Ok(c) => children.push(c),
            Err(e) => {
                for c in &mut children {
                    let _ = c.kill();
                }
                bail!("cannot start process {i}: {e}");
            }
        }
    }
    // Wait for all; after the first failure, give the others a minute to stop by themselves.
    let mut codes: Vec<Option<std::process::ExitStatus>> = vec![None; n];
    let mut failed_at: Option<Instant> = None;
    while codes.iter().any(Option::is_none) {
        for (i, c) in children.iter_mut().enumerate() {
            if codes[i].is_none() {
                if let Some(status) = c.try_wait()? {
                    if !status.success() && failed_at.is_none() {
                        failed_at = Some(Instant::now());
                    }
                    codes[i] = Some(status);
                }
            }
        }
        if failed_at.is_some_and(|t| t.elapsed() > Duration::from_secs(60)) {
            for (i, c) in children.iter_mut().enumerate() {
                if codes[i].is_none() {
                    let _ = c.kill();
                    codes[i] = Some(c.wait()?);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let failed: Vec<String> = codes
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.is_some_and(|s| s.success()))
        .map(|(i, s)| match s.and_then(|s| s.code()) {
            Some(code) => format!("process {i} (exit code {code})"),
            None => format!("process {i} (killed)"),
        })
        .collect();
    if !failed.is_empty() {
        bail!(
            "{} of {n} processes failed: {}",
            failed.len(),
            failed.join(", ")
        );
    }
    Ok(())
}

/// The command's arguments without `--local N` (or `--local=N`).
fn without_local(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut out = Vec::with_capacity(args.len());
    let mut skip = false;
    for a in args {
        if skip {
            skip = false;
            continue;
        }
        match a.to_str() {
            Some("--local") => skip = true,
            Some(s) if s.starts_with("--local=") => {}
            _ => out.push(a),
        }
    }
    out
}
