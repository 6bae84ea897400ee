//! Logging: tracing-subscriber set up to write nats-server-style lines.
//!
//! Lines look like nats-server's: `[pid] 2026/11/22 23:50:01.123456 [INF] message`, with
//! `[ERR]`, `[WRN]`, `[INF]`, `[DBG]` and `[TRC]` for the levels. An event's `peer` and
//! `cid` fields come first, as nats-server writes them (`127.0.0.1:5000 - cid:7 - msg`),
//! then the message, then any other fields as `key=value`; fields of the spans it is in
//! come before all that, each span's as `key=value ... - `. Timestamps are
//! UTC (nats-server uses local time; sluice avoids a time-zone dependency).
//!
//! Levels follow nats-server's flags: info by default, `-D` adds sluice's debug events and
//! `-V` its trace events (each on its own, as in nats-server, where `-V` alone traces
//! without debug lines). Other crates log at info and above. If `RUST_LOG` is set it
//! replaces all of that with an `EnvFilter`.

use std::fmt;
use std::fs::OpenOptions;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::filter::{filter_fn, EnvFilter};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

/// What to log and where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// `-D`: sluice's debug events.
    pub debug: bool,
    /// `-V`: sluice's trace events (every protocol op in and out).
    pub trace: bool,
    /// `-l FILE`: append to this file instead of writing to stderr.
    pub file: Option<PathBuf>,
}

/// Installs the global subscriber. Fails only if the log file cannot be opened.
pub fn init(opts: &LogOptions) -> Result<(), String> {
    let writer = match &opts.file {
        None => BoxMakeWriter::new(std::io::stderr),
        Some(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("cannot open log file {}: {e}", path.display()))?;
            BoxMakeWriter::new(Mutex::new(file))
        }
    };
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .event_format(NatsFormat {
            pid: std::process::id(),
        })
        .with_writer(writer);

    let mut bad_env = None;
    let env_filter = match std::env::var("RUST_LOG") {
        Ok(value) if !value.trim().is_empty() => match EnvFilter::try_new(&value) {
            Ok(filter) => Some(filter),
            Err(e) => {
                bad_env = Some(format!("ignoring RUST_LOG={value:?}: {e}"));
                None
            }
        },
        _ => None,
    };
    let layer = match env_filter {
        Some(filter) => fmt.with_filter(filter).boxed(),
        None => {
            FLAG_LEVELS.store(true, Ordering::Relaxed);
            set_levels(opts.debug, opts.trace);
            fmt.with_filter(filter_fn(|meta| {
                enabled(
                    meta,
                    DEBUG.load(Ordering::Relaxed),
                    TRACE.load(Ordering::Relaxed),
                )
            }))
            .boxed()
        }
    };
    // Fails only if a subscriber is already installed, which main never does.
    let _ = Registry::default().with(layer).try_init();
    if let Some(msg) = bad_env {
        tracing::warn!("{msg}");
    }
    Ok(())
}

/// The levels the flag-driven filter reads: changeable while running (a config reload).
static DEBUG: AtomicBool = AtomicBool::new(false);
static TRACE: AtomicBool = AtomicBool::new(false);
/// Whether the flag-driven filter is in use (not `RUST_LOG`).
static FLAG_LEVELS: AtomicBool = AtomicBool::new(false);

/// Turns debug and trace events on or off while running. Returns false (and changes
/// nothing that matters) when `RUST_LOG` decides the levels instead.
pub fn set_levels(debug: bool, trace: bool) -> bool {
    DEBUG.store(debug, Ordering::Relaxed);
    TRACE.store(trace, Ordering::Relaxed);
    // The filter's answers are cached per callsite; make it ask again.
    tracing::callsite::rebuild_interest_cache();
    FLAG_LEVELS.load(Ordering::Relaxed)
}

/// The flag-driven filter: info and above from everyone (but openraft, whose info lines
/// narrate every group's every step and whose warnings are routine in elections and
/// membership changes, a thousand lines for a thousand groups formed: its errors only, info
/// and warnings with -D); debug and trace from sluice's own crates, each when its flag is on.
/// What matters to an operator in a group's life Sluice logs itself.
fn enabled(meta: &Metadata<'_>, debug: bool, trace: bool) -> bool {
    let level = *meta.level();
    if (level == Level::INFO || level == Level::WARN) && meta.target().starts_with("openraft") {
        return debug;
    }
    if level <= Level::INFO {
        return true;
    }
    let ours = meta.target().starts_with("sluice");
    ours && ((level == Level::DEBUG && debug) || (level == Level::TRACE && trace))
}

/// nats-server's level tag.
fn level_tag(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERR",
        Level::WARN => "WRN",
        Level::INFO => "INF",
        Level::DEBUG => "DBG",
        Level::TRACE => "TRC",
    }
}

/// Formats events as nats-server does.
struct NatsFormat {
    pid: u32,
}

impl<S, N> FormatEvent<S, N> for NatsFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        write!(
            writer,
            "[{}] {} [{}] ",
            self.pid,
            utc_timestamp(now),
            level_tag(event.metadata().level())
        )?;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<N>>() {
                    if !fields.is_empty() {
                        write!(writer, "{fields} - ")?;
                    }
                }
            }
        }
        let mut fields = EventFields::default();
        event.record(&mut fields);
        writeln!(writer, "{fields}")
    }
}

/// An event's fields, laid out as nats-server lays out a client's log lines:
/// `PEER - cid:N - message key=value ...` (the peer and cid parts only when present).
#[derive(Default)]
struct EventFields {
    peer: Option<String>,
    cid: Option<String>,
    message: String,
    rest: String,
}

impl Visit for EventFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message.push_str(value),
            "peer" => self.peer = Some(value.to_owned()),
            "cid" => self.cid = Some(value.to_owned()),
            _ => self.record_debug(field, &value),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        use std::fmt::Write;
        match field.name() {
            "message" => {
                let _ = write!(self.message, "{value:?}");
            }
            "peer" => self.peer = Some(format!("{value:?}")),
            "cid" => self.cid = Some(format!("{value:?}")),
            // tracing-log's metadata fields repeat what the line already says.
            name if name.starts_with("log.") => {}
            name => {
                let _ = write!(self.rest, " {name}={value:?}");
            }
        }
    }
}

impl fmt::Display for EventFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(peer) = &self.peer {
            write!(f, "{peer} - ")?;
        }
        if let Some(cid) = &self.cid {
            write!(f, "cid:{cid} - ")?;
        }
        write!(f, "{}{}", self.message, self.rest)
    }
}

/// `YYYY/MM/DD HH:MM:SS.uuuuuu` (UTC) for a time since the Unix epoch.
fn utc_timestamp(since_epoch: Duration) -> String {
    let secs = since_epoch.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}/{month:02}/{day:02} {:02}:{:02}:{:02}.{:06}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since_epoch.subsec_micros()
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(utc_timestamp(Duration::ZERO), "1970/01/01 00:00:00.000000");
        // 2000-02-29 12:34:56.789012
        let t = Duration::new(951_827_696, 789_012_345);
        assert_eq!(utc_timestamp(t), "2000/02/29 12:34:56.789012");
        // 2026-11-22 23:50:01.123456
        let t = Duration::new(1_795_391_401, 123_456_000);
        assert_eq!(utc_timestamp(t), "2026/11/22 23:50:01.123456");
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(365), (1971, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
    }

    /// Formats the events `emit` logs with [`NatsFormat`], timestamps cut off.
    fn formatted(emit: impl FnOnce()) -> Vec<String> {
        use std::sync::Arc;
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let sink = buf.clone();
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .event_format(NatsFormat { pid: 7 })
            .with_writer(move || sink.clone());
        tracing::subscriber::with_default(Registry::default().with(layer), emit);
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        out.lines()
            .map(|l| {
                assert!(l.starts_with("[7] "), "{l}");
                // "[7] " + "YYYY/MM/DD HH:MM:SS.uuuuuu " is 4 + 27 bytes.
                l[31..].to_owned()
            })
            .collect()
    }

    #[test]
    fn lines_are_laid_out_like_nats_server() {
        let peer: std::net::SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let lines = formatted(|| {
            tracing::info!("Server is ready");
            tracing::debug!(cid = 7u64, %peer, "client connection created");
            tracing::trace!(cid = 7u64, "<<- [{}]", "PING");
            tracing::warn!(error = %"boom", "accept failed");
            tracing::error!(cid = 3u64, reason = "slow consumer", "closing");
            let span = tracing::info_span!("conn", kind = "route");
            span.in_scope(|| tracing::info!("hello"));
        });
        assert_eq!(
            lines,
            [
                "[INF] Server is ready",
                "[DBG] 127.0.0.1:5000 - cid:7 - client connection created",
                "[TRC] cid:7 - <<- [PING]",
                "[WRN] accept failed error=boom",
                "[ERR] cid:3 - closing reason=\"slow consumer\"",
                "[INF] kind=\"route\" - hello",
            ]
        );
    }

    #[test]
    fn level_tags() {
        assert_eq!(level_tag(&Level::ERROR), "ERR");
        assert_eq!(level_tag(&Level::WARN), "WRN");
        assert_eq!(level_tag(&Level::INFO), "INF");
        assert_eq!(level_tag(&Level::DEBUG), "DBG");
        assert_eq!(level_tag(&Level::TRACE), "TRC");
    }

    #[test]
    fn filter_follows_the_flags() {
        use tracing::callsite::Identifier;
        use tracing::field::FieldSet;
        use tracing::metadata::Kind;

        struct Cs;
        impl tracing::Callsite for Cs {
            fn set_interest(&self, _: tracing::subscriber::Interest) {}
            fn metadata(&self) -> &Metadata<'_> {
                unreachable!()
            }
        }
        static CS: Cs = Cs;
        let meta = |target: &'static str, level: Level| {
            Metadata::new(
                "e",
                target,
                level,
                None,
                None,
                None,
                FieldSet::new(&[], Identifier(&CS)),
                Kind::EVENT,
            )
        };
        let ours = |level| meta("sluice_server::conn", level);
        assert!(enabled(&ours(Level::INFO), false, false));
        assert!(enabled(&ours(Level::ERROR), false, false));
        assert!(!enabled(&ours(Level::DEBUG), false, false));
        assert!(enabled(&ours(Level::DEBUG), true, false));
        assert!(!enabled(&ours(Level::TRACE), true, false));
        assert!(enabled(&ours(Level::TRACE), false, true));
        assert!(
            !enabled(&ours(Level::DEBUG), false, true),
            "-V alone has no debug lines"
        );
        assert!(enabled(&ours(Level::DEBUG), true, true));
        assert!(enabled(&ours(Level::TRACE), true, true));
        assert!(!enabled(&meta("tokio::io", Level::DEBUG), true, true));
        assert!(enabled(&meta("tokio::io", Level::WARN), true, true));
        let raft = |level| meta("openraft::core::raft_core", level);
        assert!(
            !enabled(&raft(Level::INFO), false, false),
            "openraft's info is -D's"
        );
        assert!(enabled(&raft(Level::INFO), true, false));
        assert!(
            !enabled(&raft(Level::WARN), false, false),
            "routine in elections"
        );
        assert!(enabled(&raft(Level::WARN), true, false));
        assert!(enabled(&raft(Level::ERROR), false, false));
    }
}
