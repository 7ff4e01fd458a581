use std::path::PathBuf;

/// Why an artifact could not be written or read. Each check of the reader has its own
/// variant, so a refused artifact says exactly which check it failed.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// A filesystem operation failed; the message names the path.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// `manifest.json` is not valid JSON or lacks required fields.
    #[error("invalid manifest {path}: {message}")]
    InvalidManifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The artifact was written by a newer Ferry.
    #[error("artifact {path} has format_version {found}, this build reads up to {supported}")]
    UnsupportedFormat {
        /// The version directory.
        path: PathBuf,
        /// The artifact's format version.
        found: u32,
        /// The newest this build reads.
        supported: u32,
    },
    /// The artifact was written in a layout this build no longer reads.
    #[error(
        "artifact {path} has format_version {found}, which this build no longer reads (it reads {oldest} to {supported}): retrain the model with this build's train"
    )]
    RetiredFormat {
        /// The version directory.
        path: PathBuf,
        /// The artifact's format version.
        found: u32,
        /// The oldest this build reads.
        oldest: u32,
        /// The newest this build reads.
        supported: u32,
    },
    /// A required file is not listed in the manifest.
    #[error("artifact {path} lacks {file}")]
    MissingFile {
        /// The version directory.
        path: PathBuf,
        /// The file.
        file: String,
    },
    /// A file name in the manifest is not a plain file name.
    #[error("artifact {path} lists an invalid file name {file:?}")]
    BadFileName {
        /// The version directory.
        path: PathBuf,
        /// The name.
        file: String,
    },
    /// A file is larger than [`MAX_FILE_BYTES`](super::MAX_FILE_BYTES).
    #[error("{path} is {size} bytes, the limit is {limit}")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A file's sha256 differs from the manifest's.
    #[error("checksum mismatch for {path}: manifest says {expected}, file has {found}")]
    ChecksumMismatch {
        /// The file.
        path: PathBuf,
        /// The manifest's checksum.
        expected: String,
        /// The file's checksum.
        found: String,
    },
    /// A file's content does not parse.
    #[error("invalid {path}: {message}")]
    InvalidFile {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// The files parse but disagree with each other or the manifest.
    #[error("inconsistent artifact {path}: {message}")]
    Inconsistent {
        /// The version directory.
        path: PathBuf,
        /// What disagrees.
        message: String,
    },
    /// A part could not be serialised while writing.
    #[error("cannot serialise {file}: {message}")]
    Serialize {
        /// The file being written.
        file: String,
        /// The serialiser's message.
        message: String,
    },
}
