//! `opsroom patterns FILE… | -`: groups log lines into templates, offline.
//!
//! `--json` prints, once the input has been read, one object per mined line
//! in input order with the line's *final* pattern: the id of the group it
//! ends in and that group's final template, as drain3 users expect of a
//! finished run. Meanwhile each line's pattern id goes to an unlinked temp
//! file (12 bytes a line), so memory stays bounded by the templates.
//!
//! Lines are cut by [`opsroom_patterns::lines`], the reader the incident
//! runbook's log sources use too, with a longer limit.

use crate::client::{CliError, CliResult};
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};
use clap::Args;
use opsroom_patterns::lines::{self, RawLines};
use opsroom_patterns::{sniff, Miner, Pattern, PatternId};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, IsTerminal, Read, Seek, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Lines longer than this are skipped (and counted), never held whole.
pub const MAX_LINE_BYTES: usize = 1 << 20;

#[derive(Debug, Args)]
pub struct PatternsArgs {
    /// Log files, plain text or .gz; `-` (or none) reads standard input.
    pub files: Vec<PathBuf>,
    /// One JSON object per mined line, in input order:
    /// {"line": N, "pattern": ID, "template": "…"} (N counts every input
    /// line from 1, across all inputs; the template is the pattern's final one).
    #[arg(long)]
    pub json: bool,
    /// Show only the N most frequent patterns in the table.
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
    /// Only lines at or after TIME (RFC 3339, `YYYY-MM-DD[ HH:MM:SS]` in UTC,
    /// or an age such as 90s, 15m, 2h, 7d). Lines without a timestamp take
    /// the previous line's; those before any timestamp are left out.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
}

/// What reading the inputs counted.
#[derive(Debug, Default)]
struct Counts {
    lines: u64,
    mined: u64,
    not_utf8: u64,
    too_long: u64,
    before_since: u64,
    bytes: u64,
}

/// Mines each line as [`lines::read_all`] cuts it.
struct Mining {
    miner: Miner,
    counts: Counts,
    spill: Option<Spill>,
    since: Option<DateTime<Utc>>,
    year: i32,
    last_time: Option<DateTime<Utc>>,
    progress: Progress,
    /// Why mining stopped early (the temp file could not be written).
    failed: Option<CliError>,
}

impl RawLines for Mining {
    fn raw(&mut self, bytes: &[u8]) -> ControlFlow<()> {
        self.counts.lines += 1;
        self.counts.bytes += bytes.len() as u64 + 1;
        self.progress.tick(&self.counts, &self.miner);
        let Ok(line) = std::str::from_utf8(bytes) else {
            self.counts.not_utf8 += 1;
            return ControlFlow::Continue(());
        };
        let (mut meta, message) = sniff(line, self.year);
        if meta.time.is_none() {
            meta.time = self.last_time;
        }
        self.last_time = meta.time;
        if let Some(since) = self.since {
            if meta.time.is_none_or(|t| t < since) {
                self.counts.before_since += 1;
                return ControlFlow::Continue(());
            }
        }
        let id = self.miner.add(message, meta);
        self.counts.mined += 1;
        if let Some(spill) = &mut self.spill {
            if let Err(e) = spill.push(self.counts.lines, id) {
                self.failed = Some(e);
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }

    fn too_long(&mut self, bytes: usize) {
        self.counts.lines += 1;
        self.counts.bytes += bytes as u64 + 1;
        self.counts.too_long += 1;
        self.progress.tick(&self.counts, &self.miner);
    }
}

/// Runs `opsroom patterns`.
pub fn run(args: PatternsArgs) -> CliResult<ExitCode> {
    let since = args.since.as_deref().map(parse_since).transpose()?;
    let inputs = open_inputs(&args.files)?;
    let mut mining = Mining {
        miner: Miner::new(),
        counts: Counts::default(),
        spill: if args.json { Some(Spill::new()?) } else { None },
        since,
        year: Utc::now().year(),
        last_time: None,
        progress: Progress::new(),
        failed: None,
    };
    for (name, mut reader) in inputs {
        let flow = lines::read_all(&mut reader, MAX_LINE_BYTES, &mut mining)
            .map_err(|e| CliError::input(format!("{name}: cannot read: {e}")))?;
        // Only a failed write of the temp file stops the mining.
        if let (true, Some(e)) = (flow.is_break(), mining.failed.take()) {
            return Err(e);
        }
    }
    let Mining {
        miner,
        counts,
        spill,
        progress,
        ..
    } = mining;
    progress.clear();
    let out = io::stdout().lock();
    let written = match spill {
        Some(spill) => print_json(spill, &miner, out),
        None => print_table(&miner.patterns(), args.top, out),
    };
    match written {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        Err(e) => return Err(CliError::input(format!("cannot write the output: {e}"))),
        Ok(()) => {}
    }
    eprintln!("{}", summary(&counts, miner.patterns().len()));
    Ok(ExitCode::SUCCESS)
}

fn summary(c: &Counts, patterns: usize) -> String {
    let mut s = format!(
        "{} lines, {} mined into {patterns} patterns, {} skipped",
        c.lines,
        c.mined,
        c.not_utf8 + c.too_long
    );
    if c.not_utf8 + c.too_long > 0 {
        s.push_str(&format!(
            " ({} not UTF-8, {} longer than {} bytes)",
            c.not_utf8, c.too_long, MAX_LINE_BYTES
        ));
    }
    if c.before_since > 0 {
        s.push_str(&format!(", {} before --since", c.before_since));
    }
    s
}

type Input = (String, Box<dyn Read + Send>);

/// Opens every input before reading any, so a missing file fails at once.
fn open_inputs(files: &[PathBuf]) -> CliResult<Vec<Input>> {
    let stdin = || -> Input { ("standard input".into(), Box::new(io::stdin())) };
    if files.is_empty() {
        return Ok(vec![stdin()]);
    }
    files
        .iter()
        .map(|path| {
            if path == Path::new("-") {
                return Ok(stdin());
            }
            let name = path.display().to_string();
            let reader = lines::open_file(path)
                .map_err(|e| CliError::input(format!("cannot open {name}: {e}")))?;
            Ok((name, reader))
        })
        .collect()
}

/// Each mined line's number and pattern id, kept on disk until the end.
struct Spill {
    file: BufWriter<File>,
}

impl Spill {
    fn new() -> CliResult<Spill> {
        let path = std::env::temp_dir().join(format!(
            "opsroom-patterns-{}-{}",
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| CliError::input(format!("cannot create {}: {e}", path.display())))?;
        // Unlinked at once: the open handle keeps it until the process ends.
        let _ = std::fs::remove_file(&path);
        Ok(Spill {
            file: BufWriter::with_capacity(1 << 20, file),
        })
    }

    fn push(&mut self, line: u64, id: PatternId) -> CliResult<()> {
        let mut record = [0u8; 12];
        record[..8].copy_from_slice(&line.to_le_bytes());
        record[8..].copy_from_slice(&id.0.to_le_bytes());
        self.file
            .write_all(&record)
            .map_err(|e| CliError::input(format!("cannot write the temp file: {e}")))
    }

    fn into_reader(self) -> io::Result<impl Read> {
        let mut file = self.file.into_inner().map_err(|e| e.into_error())?;
        file.rewind()?;
        Ok(BufReader::with_capacity(1 << 20, file))
    }
}

fn print_json(spill: Spill, miner: &Miner, out: impl Write) -> io::Result<()> {
    // The final id and the JSON-escaped final template of every id handed out.
    let templates: HashMap<PatternId, String> = miner
        .patterns()
        .into_iter()
        .map(|p| (p.id, serde_json::to_string(&p.template).unwrap_or_default()))
        .collect();
    let mut finals: HashMap<PatternId, (PatternId, &str)> = HashMap::new();
    let mut out = BufWriter::with_capacity(1 << 20, out);
    let mut reader = spill.into_reader()?;
    let mut record = [0u8; 12];
    loop {
        match reader.read_exact(&mut record) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e),
        }
        let line = u64::from_le_bytes(record[..8].try_into().unwrap_or_default());
        let id = PatternId(u32::from_le_bytes(
            record[8..].try_into().unwrap_or_default(),
        ));
        let (id, template) = *finals.entry(id).or_insert_with(|| {
            let root = miner.resolve(id);
            (root, templates.get(&root).map_or("\"\"", String::as_str))
        });
        writeln!(
            out,
            "{{\"line\": {line}, \"pattern\": {id}, \"template\": {template}}}"
        )?;
    }
    out.flush()
}

fn print_table(patterns: &[Pattern], top: Option<usize>, out: impl Write) -> io::Result<()> {
    let mut out = BufWriter::new(out);
    writeln!(
        out,
        "{:>9}  {:<6}  {:<19}  {:<19}  {:>5}  TEMPLATE",
        "COUNT", "LEVEL", "FIRST SEEN", "LAST SEEN", "ID"
    )?;
    let shown = top.unwrap_or(patterns.len()).min(patterns.len());
    for p in &patterns[..shown] {
        writeln!(
            out,
            "{:>9}  {:<6}  {:<19}  {:<19}  {:>5}  {}",
            p.count,
            p.level.map_or("-", |l| l.as_str()),
            seen(p.first_seen, p.first_line),
            seen(p.last_seen, p.last_line),
            p.id,
            p.template
        )?;
        writeln!(out, "{:>71}e.g. {}", "", one_line(&p.example, 160))?;
    }
    if shown < patterns.len() {
        writeln!(
            out,
            "… {} more patterns (--top {shown} shown)",
            patterns.len() - shown
        )?;
    }
    out.flush()
}

fn seen(time: Option<DateTime<Utc>>, line: u64) -> String {
    match time {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
        None => format!("line {line}"),
    }
}

/// The example on one screen line: control characters shown as spaces, cut.
fn one_line(s: &str, max_chars: usize) -> String {
    let mut out: String = s
        .chars()
        .take(max_chars)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if s.chars().nth(max_chars).is_some() {
        out.push('…');
    }
    out
}

/// `--since`: an absolute time in UTC, or an age before now.
fn parse_since(text: &str) -> CliResult<DateTime<Utc>> {
    let bad = || {
        CliError::input(format!(
            "--since `{text}` is not a time: give RFC 3339 (2024-05-01T12:00:00Z), \
             YYYY-MM-DD[ HH:MM:SS] (UTC) or an age like 15m, 2h, 7d"
        ))
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).ok_or_else(bad)?.and_utc());
    }
    let unit = text.chars().last().ok_or_else(bad)?;
    let n: i64 = text[..text.len() - unit.len_utf8()]
        .parse()
        .map_err(|_| bad())?;
    let seconds = match unit {
        's' => n,
        'm' => n * 60,
        'h' => n * 3600,
        'd' => n * 86_400,
        _ => return Err(bad()),
    };
    Ok(Utc::now() - chrono::Duration::seconds(seconds))
}

/// A progress line on a terminal's stderr, once the input takes more than a second.
struct Progress {
    enabled: bool,
    started: Instant,
    last: Option<Instant>,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            enabled: io::stderr().is_terminal(),
            started: Instant::now(),
            last: None,
        }
    }

    fn tick(&mut self, counts: &Counts, miner: &Miner) {
        if !self.enabled || !counts.lines.is_multiple_of(65_536) {
            return;
        }
        let now = Instant::now();
        let due = match self.last {
            None => now - self.started >= Duration::from_secs(1),
            Some(last) => now - last >= Duration::from_millis(500),
        };
        if !due {
            return;
        }
        self.last = Some(now);
        let secs = (now - self.started).as_secs_f64();
        eprint!(
            "\r{} lines, {} MB, {} patterns so far, {:.0} lines/s  ",
            counts.lines,
            counts.bytes >> 20,
            miner.pattern_count(),
            counts.lines as f64 / secs
        );
    }

    fn clear(&self) {
        if self.last.is_some() {
            eprint!("\r\x1b[2K");
        }
    }
}
