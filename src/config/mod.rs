//! Typed configuration: `dq.yaml` (environments) and `rules/*.yaml` (layers).

pub mod project;
pub mod rules;
pub mod schema;
pub mod streams;
pub mod yaml;

/// The largest config or rules file dq reads: far above any real one, and a bound on what
/// a mistaken path (a log file, a device) can cost.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// Reads a config or rules file: only a regular file (a symlink is followed), at most
/// [`MAX_FILE_BYTES`] — a FIFO would block forever and `/dev/zero` never ends.
pub fn read_text(path: &std::path::Path) -> Result<String, String> {
    use std::io::Read;
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "the file is {} bytes; config and rules files are read up to {MAX_FILE_BYTES}",
            meta.len()
        ));
    }
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err("the file grew past the size limit while it was read".into());
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_regular_files_of_bounded_size_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let e = super::read_text(dir.path()).unwrap_err();
        assert!(e.contains("not a regular file"), "{e}");
        #[cfg(unix)]
        {
            let link = dir.path().join("zero.yaml");
            std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
            let e = super::read_text(&link).unwrap_err();
            assert!(e.contains("not a regular file"), "{e}");
        }
        let ok = dir.path().join("ok.yaml");
        std::fs::write(&ok, "layer: x\n").unwrap();
        assert_eq!(super::read_text(&ok).unwrap(), "layer: x\n");
    }
}
