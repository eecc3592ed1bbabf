//! Classifying files and stdin: a walker, worker threads over chunks, and in-order events.
//!
//! Work is parallel across files and across the chunks of one file; events still
//! come out in walk order so output is deterministic. Memory is bounded by the
//! work queue (a few chunks per thread), not by file size.

use crate::stream::{Chunk, ChunkReader};
use crate::{Classifier, Match};
use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

/// Something to classify.
#[derive(Debug, Clone)]
pub enum Source {
    /// A file or a directory (walked recursively, following links, loops detected).
    Path(PathBuf),
    /// Standard input.
    Stdin,
}

/// A match with its place in a file.
#[derive(Debug, Clone)]
pub struct FileMatch {
    /// The path as walked (`-` for stdin).
    pub path: Arc<str>,
    /// 1-based line.
    pub line: u64,
    /// 1-based byte column.
    pub column: u64,
    /// Byte offset in the file.
    pub offset: u64,
    /// The match; its span is relative to the chunk and not meaningful here.
    pub m: Match,
}

/// What the walk reports, in walk order.
#[derive(Debug)]
pub enum Event {
    /// A match.
    Match(FileMatch),
    /// A file finished.
    Scanned {
        /// Path.
        path: Arc<str>,
        /// Bytes read.
        bytes: u64,
        /// Scanned as printable runs because it looked binary.
        binary: bool,
    },
    /// A file or directory could not be read; the walk goes on.
    Error {
        /// Path.
        path: String,
        /// Why.
        message: String,
    },
}

/// Totals for a run.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    /// Files scanned (stdin counts as one).
    pub files: u64,
    /// Bytes scanned.
    pub bytes: u64,
    /// Files or directories that failed.
    pub errors: u64,
    /// Matches reported.
    pub matches: u64,
    /// Files scanned as binary.
    pub binary: u64,
}

struct Work {
    src: u64,
    path: Arc<str>,
    chunk: Chunk,
}

enum Res {
    Chunk {
        src: u64,
        seq: u64,
        matches: Vec<FileMatch>,
    },
    /// Every source ends with exactly one `End`, after its errors; `file` is false for
    /// sources that could not be opened at all.
    End {
        src: u64,
        path: Arc<str>,
        chunks: u64,
        bytes: u64,
        binary: bool,
        file: bool,
    },
    Error {
        src: u64,
        path: String,
        message: String,
    },
}

fn feed(src: u64, path: Arc<str>, reader: impl Read, work: &Sender<Work>, res: &Sender<Res>) {
    let mut chunks = ChunkReader::new(reader);
    let mut n = 0;
    let mut bytes = 0;
    for c in &mut chunks {
        match c {
            Ok(chunk) => {
                bytes += chunk.report_until as u64;
                n += 1;
                if work
                    .send(Work {
                        src,
                        path: path.clone(),
                        chunk,
                    })
                    .is_err()
                {
                    return;
                }
            }
            Err(e) => {
                let _ = res.send(Res::Error {
                    src,
                    path: path.to_string(),
                    message: format!("read: {e}"),
                });
                // Chunks already sent still arrive; the error ends the file.
                let _ = res.send(Res::End {
                    src,
                    path,
                    chunks: n,
                    bytes,
                    binary: false,
                    file: true,
                });
                return;
            }
        }
    }
    let _ = res.send(Res::End {
        src,
        path,
        chunks: n,
        bytes,
        binary: chunks.is_binary(),
        file: true,
    });
}

fn fail(src: u64, path: String, message: String, res: &Sender<Res>) {
    let _ = res.send(Res::Error {
        src,
        path: path.clone(),
        message,
    });
    let _ = res.send(Res::End {
        src,
        path: path.into(),
        chunks: 0,
        bytes: 0,
        binary: false,
        file: false,
    });
}

fn walk(sources: &[Source], work: Sender<Work>, res: Sender<Res>) {
    let mut src = 0u64;
    for source in sources {
        match source {
            Source::Stdin => {
                feed(src, "-".into(), std::io::stdin().lock(), &work, &res);
                src += 1;
            }
            Source::Path(root) => {
                for entry in walkdir::WalkDir::new(root)
                    .follow_links(true)
                    .sort_by_file_name()
                {
                    match entry {
                        Ok(e) if e.file_type().is_file() => {
                            let path: Arc<str> = e.path().to_string_lossy().into();
                            match std::fs::File::open(e.path()) {
                                Ok(f) => feed(src, path, f, &work, &res),
                                Err(err) => {
                                    fail(src, path.to_string(), format!("open: {err}"), &res)
                                }
                            }
                            src += 1;
                        }
                        Ok(_) => {}
                        Err(err) => {
                            let path = err
                                .path()
                                .map(|p| p.to_string_lossy().into_owned())
                                .unwrap_or_else(|| root.to_string_lossy().into_owned());
                            let message = if err.loop_ancestor().is_some() {
                                "symlink loop".to_string()
                            } else {
                                err.io_error()
                                    .map(|e| e.to_string())
                                    .unwrap_or_else(|| err.to_string())
                            };
                            fail(src, path, message, &res);
                            src += 1;
                        }
                    }
                }
            }
        }
    }
}

fn classify_chunk(classifier: &Classifier, w: Work) -> Res {
    let mut found = classifier.scan(&w.chunk.buf);
    found.retain(|m| m.span.start < w.chunk.report_until);
    found.sort_by_key(|m| m.span.start);
    let mut loc = w.chunk.locator();
    let matches = found
        .into_iter()
        .map(|m| {
            let (line, column) = loc.locate(m.span.start);
            FileMatch {
                path: w.path.clone(),
                line,
                column,
                offset: w.chunk.offset + m.span.start as u64,
                m,
            }
        })
        .collect();
    Res::Chunk {
        src: w.src,
        seq: w.chunk.seq,
        matches,
    }
}

fn worker(classifier: &Classifier, work: Receiver<Work>, res: Sender<Res>) {
    for w in work {
        if res.send(classify_chunk(classifier, w)).is_err() {
            return;
        }
    }
}

/// Scans `sources` with `threads` workers, calling `on` for every event in walk order.
pub fn scan_sources(
    classifier: &Classifier,
    sources: &[Source],
    threads: usize,
    mut on: impl FnMut(Event),
) -> Stats {
    let threads = threads.max(1);
    let (work_tx, work_rx) = bounded::<Work>(threads * 2);
    let (res_tx, res_rx) = unbounded::<Res>();
    let mut stats = Stats::default();
    std::thread::scope(|s| {
        {
            let res_tx = res_tx.clone();
            s.spawn(move || walk(sources, work_tx, res_tx));
        }
        for _ in 0..threads {
            let rx = work_rx.clone();
            let tx = res_tx.clone();
            s.spawn(move || worker(classifier, rx, tx));
        }
        drop(work_rx);
        drop(res_tx);

        // Results arrive out of order; hold them until their turn.
        let mut pending: BTreeMap<(u64, u64), Vec<FileMatch>> = BTreeMap::new();
        let mut ends: HashMap<u64, Res> = HashMap::new();
        let mut errors: HashMap<u64, Vec<(String, String)>> = HashMap::new();
        let (mut cur, mut seq) = (0u64, 0u64);
        for r in res_rx {
            match r {
                Res::Chunk { src, seq, matches } => {
                    pending.insert((src, seq), matches);
                }
                end @ Res::End { src, .. } => {
                    ends.insert(src, end);
                }
                Res::Error { src, path, message } => {
                    errors.entry(src).or_default().push((path, message));
                }
            }
            loop {
                if let Some(v) = pending.remove(&(cur, seq)) {
                    for m in v {
                        stats.matches += 1;
                        on(Event::Match(m));
                    }
                    seq += 1;
                    continue;
                }
                let complete =
                    matches!(ends.get(&cur), Some(Res::End { chunks, .. }) if seq >= *chunks);
                if !complete {
                    break;
                }
                for (path, message) in errors.remove(&cur).unwrap_or_default() {
                    stats.errors += 1;
                    on(Event::Error { path, message });
                }
                if let Some(Res::End {
                    path,
                    bytes,
                    binary,
                    file: true,
                    ..
                }) = ends.remove(&cur)
                {
                    stats.files += 1;
                    stats.bytes += bytes;
                    stats.binary += binary as u64;
                    on(Event::Scanned {
                        path,
                        bytes,
                        binary,
                    });
                }
                cur += 1;
                seq = 0;
            }
        }
    });
    stats
}
