//! Output files named by path: opened when the crawl is built, created new or, when a crawl
//! with a state file resumes, cut back to the length its state committed and continued.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arachne_core::store::OutputMark;
use arachne_core::{CsvItems, CsvWriter, JsonLinesItems, JsonLinesWriter};
use arachne_warc::WarcWriter;

use crate::sink::Output;

/// What an output file holds, and how.
#[derive(Debug, Clone)]
pub(crate) enum FileKind {
    RecordsJsonl,
    RecordsCsv,
    ItemsJsonl,
    ItemsCsv,
    /// WARC, rotating to numbered files past `max_size`.
    Warc {
        max_size: Option<u64>,
        software: String,
    },
}

/// An output file, as the builder was given it.
#[derive(Debug, Clone)]
pub(crate) struct FileOutput {
    pub path: PathBuf,
    pub kind: FileKind,
}

/// An opened output file.
pub(crate) struct OpenedFile {
    /// The path as the state names it (see [`key_of`]).
    pub key: String,
    pub writer: FileWriter,
    /// The file, to force to the disk before a commit says how long it is (the WARC writer
    /// does that itself).
    pub sync: Option<File>,
}

/// The writer of an opened file, with what tells how far it wrote.
pub(crate) enum FileWriter {
    Records(Output, Arc<AtomicU64>),
    Items(Output, Arc<AtomicU64>),
    Warc(WarcWriter),
}

impl OpenedFile {
    /// How far the file is written: every write is a whole record.
    pub fn mark(&self) -> OutputMark {
        let (files, length) = match &self.writer {
            FileWriter::Records(_, written) | FileWriter::Items(_, written) => {
                (1, written.load(Ordering::Acquire))
            }
            FileWriter::Warc(warc) => {
                let (files, length) = warc.position();
                (u32::try_from(files).unwrap_or(u32::MAX), length)
            }
        };
        OutputMark {
            path: self.key.clone(),
            files,
            length,
        }
    }

    /// Hands what the writer holds to the file and forces it to the disk, so that a commit
    /// never says a file is longer than the disk holds, even across a power cut.
    pub fn sync(&mut self) -> io::Result<()> {
        match &mut self.writer {
            FileWriter::Warc(warc) => return warc.sync(),
            FileWriter::Records(Output::Records(writer), _) => writer.flush()?,
            FileWriter::Items(Output::Items(writer), _) => writer.flush()?,
            FileWriter::Records(..) | FileWriter::Items(..) => {}
        }
        self.sync.as_ref().map_or(Ok(()), File::sync_data)
    }

    /// The writer, for a sink actor of its own.
    pub fn into_output(self) -> Output {
        match self.writer {
            FileWriter::Records(output, _) | FileWriter::Items(output, _) => output,
            FileWriter::Warc(warc) => Output::Exchanges(Box::new(warc)),
        }
    }
}

/// The name of an output file in a state file: relative to the state file's directory when
/// it is inside it (so that a crawl's folder can be moved), absolute otherwise (so that it
/// is recognized from another working directory).
pub(crate) fn key_of(path: &Path, state: Option<&Path>) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let dir = state
        .and_then(|state| std::path::absolute(state).ok())
        .and_then(|state| state.parent().map(Path::to_owned));
    match dir
        .as_deref()
        .and_then(|dir| absolute.strip_prefix(dir).ok())
    {
        Some(relative) => relative.to_string_lossy().into_owned(),
        None => absolute.to_string_lossy().into_owned(),
    }
}

impl FileOutput {
    /// The file that `mark` says was written last: the output's path, or with rotation,
    /// its numbered file.
    fn current(&self, mark: Option<&OutputMark>) -> PathBuf {
        match &self.kind {
            FileKind::Warc { max_size, .. } => {
                WarcWriter::file_path(&self.path, *max_size, mark.map_or(1, |m| m.files as usize))
            }
            _ => self.path.clone(),
        }
    }

    /// Checks, before anything is opened, that the file can be continued: with a mark, it
    /// is still there and at least as long as the mark; without one, a crawl that resumes
    /// does not overwrite a file that holds something. `force` lets both through.
    pub fn check(
        &self,
        mark: Option<&OutputMark>,
        resumed: bool,
        force: bool,
    ) -> Result<(), OpenError> {
        if force {
            return Ok(());
        }
        let current = self.current(mark);
        let found = match std::fs::metadata(&current) {
            Ok(metadata) => Some(metadata.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        match (mark, found) {
            (Some(mark), None) => Err(OpenError::Changed(format!(
                "{} is gone, but the crawl had written {} bytes to it",
                current.display(),
                mark.length
            ))),
            (Some(mark), Some(found)) if found < mark.length => Err(OpenError::Changed(format!(
                "{} has {found} bytes, fewer than the {} the crawl wrote to it",
                current.display(),
                mark.length
            ))),
            (None, Some(found)) if resumed && found > 0 => Err(OpenError::Changed(format!(
                "{} holds {found} bytes that this crawl's state does not account for (it was not one of its outputs, or it was moved): move it away, or run with --force to start it over",
                current.display()
            ))),
            _ => Ok(()),
        }
    }

    /// Opens the file (after [`FileOutput::check`]): created (or truncated) without a
    /// mark; with one, cut back to the committed length and continued. With `force`, a
    /// file shorter than its mark is continued from where it ends, and a missing one is
    /// started anew.
    pub fn open(
        &self,
        key: String,
        mark: Option<&OutputMark>,
        force: bool,
    ) -> Result<OpenedFile, OpenError> {
        let mut sync = None;
        let writer = match &self.kind {
            FileKind::Warc { max_size, software } => {
                let current = self.current(mark);
                let warc = match mark {
                    Some(mark) if current.exists() => {
                        let files = mark.files as usize;
                        let length = if force {
                            std::fs::metadata(&current)?.len().min(mark.length)
                        } else {
                            mark.length
                        };
                        WarcWriter::resume(&self.path, *max_size, software, files, length).map_err(
                            |e| match e.kind() {
                                io::ErrorKind::InvalidData => OpenError::Changed(e.to_string()),
                                _ => OpenError::Io(e),
                            },
                        )?
                    }
                    _ => WarcWriter::create(&self.path, *max_size, software)?,
                };
                FileWriter::Warc(warc)
            }
            kind => {
                let (file, length) = match mark {
                    None => (File::create(&self.path)?, 0),
                    Some(mark) => continue_file(&self.path, mark.length, force)?,
                };
                sync = file.try_clone().ok();
                let written = Arc::new(AtomicU64::new(length));
                let out = Counted {
                    file,
                    written: Arc::clone(&written),
                };
                match kind {
                    FileKind::RecordsJsonl => FileWriter::Records(
                        Output::Records(Box::new(JsonLinesWriter::new(out))),
                        written,
                    ),
                    FileKind::RecordsCsv if length > 0 => FileWriter::Records(
                        Output::Records(Box::new(CsvWriter::continuing(out))),
                        written,
                    ),
                    FileKind::RecordsCsv => {
                        FileWriter::Records(Output::Records(Box::new(CsvWriter::new(out))), written)
                    }
                    FileKind::ItemsJsonl => FileWriter::Items(
                        Output::Items(Box::new(JsonLinesItems::new(out))),
                        written,
                    ),
                    FileKind::ItemsCsv if length > 0 => {
                        let columns = header_columns(&self.path)?;
                        FileWriter::Items(
                            Output::Items(Box::new(CsvItems::continuing(out, columns))),
                            written,
                        )
                    }
                    FileKind::ItemsCsv => {
                        FileWriter::Items(Output::Items(Box::new(CsvItems::new(out))), written)
                    }
                    FileKind::Warc { .. } => unreachable!("matched above"),
                }
            }
        };
        Ok(OpenedFile { key, writer, sync })
    }
}

/// Why an output file could not be opened.
#[derive(Debug)]
pub(crate) enum OpenError {
    Io(io::Error),
    /// It was changed since the crawl wrote it.
    Changed(String),
}

impl From<io::Error> for OpenError {
    fn from(e: io::Error) -> Self {
        OpenError::Io(e)
    }
}

/// Opens a file to continue it at `length`: longer files are cut back (what follows was
/// written after the last commit).
fn continue_file(path: &Path, length: u64, force: bool) -> Result<(File, u64), OpenError> {
    let mut file = match OpenOptions::new().write(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound && force => File::create(path)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(OpenError::Changed(format!(
                "the file is gone, but the crawl had written {length} bytes to it"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let found = file.metadata()?.len();
    let length = if found < length {
        if !force {
            return Err(OpenError::Changed(format!(
                "it has {found} bytes, fewer than the {length} the crawl wrote to it"
            )));
        }
        found
    } else {
        length
    };
    file.set_len(length)?;
    file.seek(SeekFrom::End(0))?;
    Ok((file, length))
}

/// The columns of a CSV items file, from its header row.
fn header_columns(path: &Path) -> io::Result<Vec<String>> {
    let mut line = String::new();
    BufReader::new(File::open(path)?).read_line(&mut line)?;
    let header = line.trim_end_matches(['\r', '\n']);
    Ok(CsvItems::<Vec<u8>>::header_columns(header))
}

/// A file that counts the bytes written to it.
struct Counted {
    file: File,
    written: Arc<AtomicU64>,
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written.fetch_add(n as u64, Ordering::AcqRel);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("arachne-outputs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn continues_at_the_mark_and_refuses_a_shorter_file() {
        let path = temp("records.jsonl");
        std::fs::write(&path, b"{\"a\":1}\n{\"b\":2}\n{\"c\"").unwrap();
        let output = FileOutput {
            path: path.clone(),
            kind: FileKind::RecordsJsonl,
        };
        let key = key_of(&path, None);
        let mark = OutputMark {
            path: key.clone(),
            files: 1,
            length: 16,
        };
        output.check(Some(&mark), true, false).unwrap();
        let opened = output.open(key.clone(), Some(&mark), false).unwrap();
        assert_eq!(opened.mark(), mark);
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"a\":1}\n{\"b\":2}\n");

        let longer = OutputMark { length: 99, ..mark };
        let Err(OpenError::Changed(why)) = output.check(Some(&longer), true, false) else {
            panic!("a shorter file must be refused");
        };
        assert!(why.contains("fewer than the 99"), "{why}");
        assert_eq!(std::fs::read(&path).unwrap().len(), 16, "left as it was");
        let forced = output.open(key.clone(), Some(&longer), true).unwrap();
        assert_eq!(forced.mark().length, 16, "continued from where it ends");
        // A file this crawl did not write is not overwritten by a resumed crawl.
        let Err(OpenError::Changed(why)) = output.check(None, true, false) else {
            panic!("an unaccounted file must be refused");
        };
        assert!(why.contains("does not account for"), "{why}");
        output.check(None, false, false).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(
            output.check(Some(&longer), true, false),
            Err(OpenError::Changed(_))
        ));
    }

    #[test]
    fn keys_are_relative_to_the_state_file_inside_its_folder() {
        let dir = temp("keys");
        let state = dir.join("crawl.db");
        assert_eq!(
            key_of(&dir.join("out/pages.jsonl"), Some(&state)),
            "out/pages.jsonl"
        );
        let elsewhere = key_of(Path::new("/var/tmp/pages.jsonl"), Some(&state));
        assert_eq!(elsewhere, "/var/tmp/pages.jsonl");
    }

    #[test]
    fn csv_items_take_their_columns_from_the_header() {
        let path = temp("items.csv");
        std::fs::write(&path, b"title,\"pri,ce\"\r\nA,1\r\nB,2\r\n").unwrap();
        let output = FileOutput {
            path: path.clone(),
            kind: FileKind::ItemsCsv,
        };
        let mark = OutputMark {
            path: key_of(&path, None),
            files: 1,
            length: 21,
        };
        let opened = output.open(mark.path.clone(), Some(&mark), false).unwrap();
        let FileWriter::Items(Output::Items(mut writer), _) = opened.writer else {
            panic!("an item writer");
        };
        writer
            .write_item("Book", &serde_json::json!({"pri,ce": 3, "title": "C"}))
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "title,\"pri,ce\"\r\nA,1\r\nC,3\r\n"
        );
    }
}
