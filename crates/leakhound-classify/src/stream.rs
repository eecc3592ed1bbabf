//! Bounded chunking of arbitrary input: files of any size, single lines of any length.
//!
//! A chunk never exceeds [`CHUNK`] plus one read, so a 2 GB single-line file costs the
//! same memory as a small one. Chunks end at a newline where possible; a longer line
//! is cut with [`OVERLAP`] bytes repeated, and each position is reported by exactly
//! one chunk.

use std::io::{self, Read};

/// Target chunk size.
pub const CHUNK: usize = 1 << 20;
/// Bytes repeated across a forced cut; longer than any single match we report.
pub const OVERLAP: usize = 16 << 10;
const READ: usize = 64 << 10;
/// How far into a file we look for a NUL to call it binary.
const BINARY_SNIFF: usize = 8 << 10;

/// A piece of input with its position.
#[derive(Debug)]
pub struct Chunk {
    /// The bytes.
    pub buf: Vec<u8>,
    /// Absolute offset of `buf[0]` in the input.
    pub offset: u64,
    /// 1-based line number of `buf[0]`.
    pub line: u64,
    /// Bytes between the last newline before `buf[0]` and `buf[0]`.
    pub column: u64,
    /// Matches starting at or after this index belong to the next chunk.
    pub report_until: usize,
    /// Sequence number within the input.
    pub seq: u64,
}

impl Chunk {
    /// A cursor that turns ascending positions into 1-based (line, byte column).
    pub fn locator(&self) -> Locator<'_> {
        Locator {
            chunk: self,
            at: 0,
            line: self.line,
            line_start: None,
        }
    }
}

/// Turns ascending positions of one chunk into line and column without rescanning.
pub struct Locator<'a> {
    chunk: &'a Chunk,
    at: usize,
    line: u64,
    line_start: Option<usize>,
}

impl Locator<'_> {
    /// Line and column of `pos`; positions must not go backwards.
    pub fn locate(&mut self, pos: usize) -> (u64, u64) {
        let pos = pos.max(self.at).min(self.chunk.buf.len());
        for nl in memchr::memchr_iter(b'\n', &self.chunk.buf[self.at..pos]) {
            self.line += 1;
            self.line_start = Some(self.at + nl + 1);
        }
        self.at = pos;
        let column = match self.line_start {
            Some(ls) => (pos - ls) as u64 + 1,
            None => self.chunk.column + pos as u64 + 1,
        };
        (self.line, column)
    }
}

/// Splits a reader into chunks.
pub struct ChunkReader<R> {
    r: R,
    carry: Vec<u8>,
    offset: u64,
    line: u64,
    column: u64,
    seq: u64,
    done: bool,
    binary: Option<bool>,
    max_buf: usize,
}

impl<R: Read> ChunkReader<R> {
    /// Wraps a reader.
    pub fn new(r: R) -> Self {
        ChunkReader {
            r,
            carry: Vec::new(),
            offset: 0,
            line: 1,
            column: 0,
            seq: 0,
            done: false,
            binary: None,
            max_buf: 0,
        }
    }

    /// Whether the input was judged binary (a NUL byte in its first 8 KiB).
    pub fn is_binary(&self) -> bool {
        self.binary.unwrap_or(false)
    }

    /// The largest buffer this reader has held, for tests of the memory bound.
    pub fn max_buffer(&self) -> usize {
        self.max_buf
    }

    fn fill(&mut self, buf: &mut Vec<u8>) -> io::Result<bool> {
        while buf.len() < CHUNK {
            let old = buf.len();
            buf.resize(old + READ, 0);
            let n = loop {
                match self.r.read(&mut buf[old..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        buf.truncate(old);
                        return Err(e);
                    }
                }
            };
            buf.truncate(old + n);
            if n == 0 {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Binary input is scanned as its printable runs: control bytes become spaces, so
/// offsets stay true and no rule can match across them.
fn blank_controls(buf: &mut [u8]) {
    for b in buf {
        if (*b < 0x20 && !matches!(*b, b'\t' | b'\n' | b'\r')) || *b == 0x7f {
            *b = b' ';
        }
    }
}

impl<R: Read> Iterator for ChunkReader<R> {
    type Item = io::Result<Chunk>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut buf = std::mem::take(&mut self.carry);
        buf.reserve(CHUNK + READ);
        let eof = match self.fill(&mut buf) {
            Ok(eof) => eof,
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        self.max_buf = self.max_buf.max(buf.capacity());
        if self.binary.is_none() {
            let sniff = &buf[..buf.len().min(BINARY_SNIFF)];
            self.binary = Some(memchr::memchr(0, sniff).is_some());
        }
        if eof && buf.is_empty() {
            self.done = true;
            return None;
        }
        let report_until = if eof {
            self.done = true;
            buf.len()
        } else if let Some(nl) = memchr::memrchr(b'\n', &buf) {
            self.carry = buf[nl + 1..].to_vec();
            buf.truncate(nl + 1);
            nl + 1
        } else {
            // One line longer than a chunk: cut, and repeat the tail in the next chunk.
            let cut = buf.len() - OVERLAP;
            self.carry = buf[cut..].to_vec();
            cut
        };
        let mut data = buf;
        if self.is_binary() {
            blank_controls(&mut data);
        }
        let chunk = Chunk {
            buf: data,
            offset: self.offset,
            line: self.line,
            column: self.column,
            report_until,
            seq: self.seq,
        };
        // Advance the position by what this chunk owns.
        let owned = &chunk.buf[..report_until.min(chunk.buf.len())];
        let nls = memchr::memchr_iter(b'\n', owned).count() as u64;
        self.line += nls;
        self.column = match memchr::memrchr(b'\n', owned) {
            Some(p) => (owned.len() - p - 1) as u64,
            None => self.column + owned.len() as u64,
        };
        self.offset += report_until as u64;
        self.seq += 1;
        Some(Ok(chunk))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Yields `len` bytes of a repeating pattern without ever holding them.
    struct Endless {
        left: u64,
    }
    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = (buf.len() as u64).min(self.left) as usize;
            for (i, b) in buf[..n].iter_mut().enumerate() {
                *b = b"abcdefgh"[i % 8];
            }
            self.left -= n as u64;
            Ok(n)
        }
    }

    #[test]
    fn one_huge_line_stays_within_the_chunk_bound() {
        let total = 64 * CHUNK as u64 + 123;
        let mut r = ChunkReader::new(Endless { left: total });
        let mut owned = 0u64;
        for c in &mut r {
            let c = c.unwrap();
            assert_eq!(c.offset, owned);
            owned += c.report_until as u64;
            assert_eq!(c.line, 1);
        }
        assert_eq!(owned, total);
        assert!(r.max_buffer() <= CHUNK + 2 * READ, "{}", r.max_buffer());
    }

    #[test]
    fn chunks_end_at_newlines_and_count_lines() {
        let mut text = Vec::new();
        for i in 0..200_000 {
            text.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        let mut lines_seen = 0u64;
        let mut expected_line = 1;
        for c in ChunkReader::new(&text[..]) {
            let c = c.unwrap();
            assert_eq!(c.line, expected_line);
            assert!(c.buf.ends_with(b"\n"));
            let n = memchr::memchr_iter(b'\n', &c.buf).count() as u64;
            lines_seen += n;
            expected_line += n;
        }
        assert_eq!(lines_seen, 200_000);
    }

    #[test]
    fn binary_input_is_blanked_not_dropped() {
        let mut data = vec![0u8, 1, 2];
        data.extend_from_slice(b"token\x00value\n");
        let c = ChunkReader::new(&data[..]).next().unwrap().unwrap();
        assert_eq!(&c.buf, b"   token value\n");
    }

    #[test]
    fn locator_counts_lines_and_columns() {
        let c = ChunkReader::new(&b"ab\ncd\nefg"[..])
            .next()
            .unwrap()
            .unwrap();
        let mut l = c.locator();
        assert_eq!(l.locate(1), (1, 2));
        assert_eq!(l.locate(3), (2, 1));
        assert_eq!(l.locate(8), (3, 3));
    }

    #[test]
    fn empty_input_yields_nothing() {
        assert!(ChunkReader::new(&b""[..]).next().is_none());
    }
}
