//! A source batch as files: read from a folder, a zip, or one JSON document, whichever way
//! it arrived. A batch whose files cannot be read at all is refused whole.

use std::io::Read;
use std::path::Path;

use super::model::{BatchError, Rejection};

#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The file's own name, without folders.
    pub name: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, Default)]
pub struct SourceBatch {
    pub files: Vec<SourceFile>,
}

/// Zips bigger than this when unpacked are refused: a small upload must not fill memory.
const MAX_UNPACKED: u64 = 2 << 30;

impl SourceBatch {
    /// A folder of files, a `.zip`, or a single file.
    pub fn from_path(path: &Path) -> Result<SourceBatch, BatchError> {
        let shown = path.display().to_string();
        let unreadable = |e: std::io::Error| {
            BatchError::one(Rejection::file(&shown, format!("cannot be read: {e}")))
        };
        if path.is_dir() {
            let mut files = Vec::new();
            for entry in std::fs::read_dir(path).map_err(unreadable)? {
                let p = entry.map_err(unreadable)?.path();
                if p.is_file() {
                    files.push(SourceFile {
                        name: file_name(&p.to_string_lossy()),
                        bytes: std::fs::read(&p).map_err(unreadable)?,
                    });
                }
            }
            files.sort_by(|a, b| a.name.cmp(&b.name));
            return Ok(SourceBatch { files });
        }
        let bytes = std::fs::read(path).map_err(unreadable)?;
        if bytes.starts_with(b"PK\x03\x04") {
            return SourceBatch::from_zip(&bytes);
        }
        Ok(SourceBatch {
            files: vec![SourceFile {
                name: file_name(&shown),
                bytes,
            }],
        })
    }

    /// The files of a zip archive; folders inside it are ignored, names keep their last part.
    pub fn from_zip(bytes: &[u8]) -> Result<SourceBatch, BatchError> {
        let bad = |e: String| {
            BatchError::one(Rejection::file(
                "(zip)",
                format!("is not a readable zip archive: {e}"),
            ))
        };
        let mut archive =
            zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| bad(e.to_string()))?;
        let mut files = Vec::new();
        let mut total = 0u64;
        for i in 0..archive.len() {
            let mut f = archive.by_index(i).map_err(|e| bad(e.to_string()))?;
            if f.is_dir() {
                continue;
            }
            total += f.size();
            if total > MAX_UNPACKED {
                return Err(bad("it unpacks to more than 2 GiB".into()));
            }
            let name = file_name(&f.name().map_err(|e| bad(e.to_string()))?);
            let mut data = Vec::with_capacity(f.size().min(1 << 26) as usize);
            f.read_to_end(&mut data).map_err(|e| {
                BatchError::one(Rejection::file(&name, format!("cannot be unpacked: {e}")))
            })?;
            files.push(SourceFile { name, bytes: data });
        }
        files.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(SourceBatch { files })
    }

    /// A digest of the whole batch: the same files give the same digest, so a re-import is
    /// recognised as the same batch.
    pub fn digest(&self) -> String {
        let mut h = openssl::sha::Sha256::new();
        for f in &self.files {
            h.update(f.name.as_bytes());
            h.update(&[0]);
            h.update(&(f.bytes.len() as u64).to_be_bytes());
            h.update(&f.bytes);
        }
        h.finish().iter().map(|b| format!("{b:02x}")).collect()
    }
}

fn file_name(path: &str) -> String {
    path.rsplit(['/', '\\']).next().unwrap_or(path).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_a_zip_and_digests_it_stably() {
        let mut buf = std::io::Cursor::new(Vec::new());
        {
            let mut z = zip::ZipWriter::new(&mut buf);
            let opts = zip::write::SimpleFileOptions::default();
            z.start_file("extract/B.csv", opts).expect("starts");
            z.write_all(b"b").expect("writes");
            z.start_file("A.csv", opts).expect("starts");
            z.write_all(b"a").expect("writes");
            z.finish().expect("finishes");
        }
        let batch = SourceBatch::from_zip(buf.get_ref()).expect("reads");
        let names: Vec<&str> = batch.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["A.csv", "B.csv"]);
        assert_eq!(
            batch.digest(),
            SourceBatch::from_zip(buf.get_ref())
                .expect("reads")
                .digest()
        );
        assert!(SourceBatch::from_zip(b"PK\x03\x04 not a zip").is_err());
    }
}
