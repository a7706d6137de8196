//! Log lines cut from a byte stream: the one reader behind `opsroom
//! patterns` and the incident runbook's log sources. A line is handed over
//! without its `\n` or `\r\n`, straight from the read buffer when it lies
//! within one chunk; a line longer than the limit is skipped and counted,
//! never held whole; `.gz` files are decompressed as they stream. Whether a
//! line is UTF-8 is the sink's to check (and to count when it is not).

use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::ops::ControlFlow;
use std::path::Path;

/// How much is read at once.
const CHUNK: usize = 256 * 1024;

/// Where lines go as they are cut.
pub trait RawLines {
    /// One line, without its end of line. `Break` stops reading.
    fn raw(&mut self, bytes: &[u8]) -> ControlFlow<()>;
    /// A line longer than the limit, skipped; `bytes` is its length.
    fn too_long(&mut self, bytes: usize);
}

/// Cuts lines out of chunks of bytes as they arrive, holding at most
/// `max_line` bytes of a line that spans chunks.
#[derive(Debug)]
pub struct LineSplitter {
    buf: Vec<u8>,
    max_line: usize,
    /// The length so far of a line being skipped for its length.
    skipping: Option<usize>,
}

impl LineSplitter {
    /// Lines longer than `max_line` bytes are skipped.
    pub fn new(max_line: usize) -> LineSplitter {
        LineSplitter {
            buf: Vec::new(),
            max_line,
            skipping: None,
        }
    }

    /// Passes each line that `chunk` completes to `sink`.
    pub fn push<S: RawLines + ?Sized>(
        &mut self,
        mut chunk: &[u8],
        sink: &mut S,
    ) -> ControlFlow<()> {
        while let Some(i) = memchr::memchr(b'\n', chunk) {
            let part = &chunk[..i];
            chunk = &chunk[i + 1..];
            let held = self.buf.len() + part.len();
            let flow = match self.skipping.take() {
                Some(skipped) => {
                    sink.too_long(skipped + part.len());
                    ControlFlow::Continue(())
                }
                None if held > self.max_line => {
                    sink.too_long(held);
                    ControlFlow::Continue(())
                }
                None if self.buf.is_empty() => sink.raw(trim_cr(part)),
                None => {
                    self.buf.extend_from_slice(part);
                    sink.raw(trim_cr(&self.buf))
                }
            };
            self.buf.clear();
            flow?;
        }
        match &mut self.skipping {
            Some(skipped) => *skipped += chunk.len(),
            None if self.buf.len() + chunk.len() > self.max_line => {
                self.skipping = Some(self.buf.len() + chunk.len());
                self.buf.clear();
            }
            None => self.buf.extend_from_slice(chunk),
        }
        ControlFlow::Continue(())
    }

    /// Passes the last line, when the stream did not end with a newline.
    pub fn finish<S: RawLines + ?Sized>(&mut self, sink: &mut S) -> ControlFlow<()> {
        let flow = match self.skipping.take() {
            Some(skipped) => {
                sink.too_long(skipped);
                ControlFlow::Continue(())
            }
            None if !self.buf.is_empty() => sink.raw(trim_cr(&self.buf)),
            None => ControlFlow::Continue(()),
        };
        self.buf.clear();
        flow
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Opens a log file, decompressing it as it is read when its name ends in
/// `.gz` (several gzip members one after another, as rotated logs are
/// concatenated, included).
pub fn open_file(path: &Path) -> io::Result<Box<dyn Read + Send>> {
    let file = File::open(path)?;
    Ok(if path.extension().is_some_and(|e| e == "gz") {
        Box::new(MultiGzDecoder::new(BufReader::new(file)))
    } else {
        Box::new(file)
    })
}

/// Reads `reader` to its end (or until `sink` breaks, which is returned),
/// passing each line of at most `max_line` bytes to `sink`.
pub fn read_all<S: RawLines + ?Sized>(
    reader: &mut dyn Read,
    max_line: usize,
    sink: &mut S,
) -> io::Result<ControlFlow<()>> {
    let mut splitter = LineSplitter::new(max_line);
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if splitter.push(&buf[..n], sink).is_break() {
            return Ok(ControlFlow::Break(()));
        }
    }
    Ok(splitter.finish(sink))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[derive(Default)]
    struct Collect {
        lines: Vec<String>,
        too_long: Vec<usize>,
        stop_after: Option<usize>,
    }

    impl RawLines for Collect {
        fn raw(&mut self, bytes: &[u8]) -> ControlFlow<()> {
            self.lines.push(String::from_utf8_lossy(bytes).into_owned());
            match self.stop_after {
                Some(n) if self.lines.len() >= n => ControlFlow::Break(()),
                _ => ControlFlow::Continue(()),
            }
        }
        fn too_long(&mut self, bytes: usize) {
            self.too_long.push(bytes);
        }
    }

    #[test]
    fn lines_are_cut_however_the_stream_is_chunked_and_long_ones_skipped() {
        let max = 64;
        let long = "x".repeat(max + 1);
        let text = format!("a\r\nbb\n{long}\nccc\n\n{}\nlast", "y".repeat(max));
        for size in [1, 3, 7, 60, 1000] {
            let mut splitter = LineSplitter::new(max);
            let mut sink = Collect::default();
            for chunk in text.as_bytes().chunks(size) {
                let _ = splitter.push(chunk, &mut sink);
            }
            let _ = splitter.finish(&mut sink);
            assert_eq!(
                sink.lines,
                ["a", "bb", "ccc", "", &"y".repeat(max), "last"],
                "chunks of {size}"
            );
            assert_eq!(sink.too_long, [max + 1], "chunks of {size}");
        }
    }

    #[test]
    fn a_too_long_last_line_and_a_stop_are_honoured() {
        let mut sink = Collect::default();
        let text = format!("one\n{}", "z".repeat(100));
        let flow = read_all(&mut text.as_bytes(), 10, &mut sink).unwrap();
        assert!(flow.is_continue());
        assert_eq!(
            (sink.lines, sink.too_long),
            (vec!["one".to_string()], vec![100])
        );
        let mut sink = Collect {
            stop_after: Some(2),
            ..Collect::default()
        };
        let flow = read_all(&mut &b"1\n2\n3\n"[..], 10, &mut sink).unwrap();
        assert!(flow.is_break());
        assert_eq!(sink.lines, ["1", "2"]);
    }

    #[test]
    fn gzip_files_are_read_whole_across_members() {
        let dir = std::env::temp_dir().join(format!("opsroom-lines-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("app.log.1.gz");
        let mut bytes = Vec::new();
        for part in ["first\nsec", "ond\nthird\n"] {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(part.as_bytes()).unwrap();
            bytes.extend(gz.finish().unwrap());
        }
        std::fs::write(&path, bytes).unwrap();
        let mut sink = Collect::default();
        let flow = read_all(&mut open_file(&path).unwrap(), 100, &mut sink).unwrap();
        assert!(flow.is_continue());
        assert_eq!(sink.lines, ["first", "second", "third"]);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
