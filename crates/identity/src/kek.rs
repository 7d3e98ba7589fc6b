//! The key-encryption key (KEK): a 32-byte AES-256-GCM key kept in a 0600 file in the server's
//! data dir, which wraps root key material before it goes into the replicated state.
//!
//! Wrapped form (version 1): `0x01`, the random 96-bit nonce, then the ciphertext of
//! [`KeyMaterial`]'s byte form followed by the GCM tag. The root key ID is the associated data,
//! so wrapped bytes cannot be moved to another key ID.

use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{AES_256_GCM, Aad, MAX_TAG_LEN, NONCE_LEN, Nonce, RandomizedNonceKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Error, KeyMaterial};

/// Length of a key-encryption key.
pub const KEK_LEN: usize = 32;
/// First byte of the version 1 wrapped form.
const WRAP_V1: u8 = 1;
/// Permission bits that must be clear on the KEK file: any access by group or others.
const GROUP_OTHER_BITS: u32 = 0o077;

/// The key that wraps root key material. Loaded once; never printed.
pub struct Kek {
    key: RandomizedNonceKey,
}

/// Root key material sealed by a [`Kek`]; serializes as a standard base64 string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey(pub Vec<u8>);

impl Kek {
    /// Reads the KEK at `path`, or creates one there (mode 0600, parent dirs 0700) when there is
    /// no file. Refuses a file of the wrong length or one that group or others may access.
    pub fn load_or_create(path: &Path) -> Result<Kek, Error> {
        match fs::metadata(path) {
            Ok(meta) => Kek::load(path, &meta),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Kek::create(path),
            Err(source) => Err(Error::KekIo {
                path: path.to_path_buf(),
                doing: "reading its metadata",
                source,
            }),
        }
    }

    fn load(path: &Path, meta: &fs::Metadata) -> Result<Kek, Error> {
        let problem = |problem: String| Error::KekFile {
            path: path.to_path_buf(),
            problem,
        };
        if !meta.is_file() {
            return Err(problem(
                "is not a regular file; move it away so a key can be created, or restore the original".into(),
            ));
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & GROUP_OTHER_BITS != 0 {
            return Err(problem(format!(
                "mode {mode:04o} lets group or others access it; run `chmod 600 {}` and make sure the key has not leaked",
                path.display()
            )));
        }
        let mut bytes = fs::read(path).map_err(|source| Error::KekIo {
            path: path.to_path_buf(),
            doing: "reading it",
            source,
        })?;
        let Ok(mut key) = <[u8; KEK_LEN]>::try_from(bytes.as_slice()) else {
            return Err(problem(format!(
                "holds {} bytes, but a key-encryption key is exactly {KEK_LEN}; restore the original file (root keys wrapped by it cannot be decrypted without it)",
                bytes.len()
            )));
        };
        bytes.fill(0);
        let kek = Kek::from_bytes(&key);
        key.fill(0);
        kek
    }

    fn create(path: &Path) -> Result<Kek, Error> {
        let io = |doing: &'static str| {
            move |source| Error::KekIo {
                path: path.to_path_buf(),
                doing,
                source,
            }
        };
        let mut key = [0u8; KEK_LEN];
        aws_lc_rs::rand::fill(&mut key).map_err(|_| Error::KeyGeneration {
            what: "the key-encryption key",
        })?;
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io("creating its directory"))?;
        let temp = temp_path(path)?;
        let written = write_new_private_file(&temp, &key).and_then(|()| fs::rename(&temp, path));
        if let Err(source) = written {
            let _ = fs::remove_file(&temp);
            return Err(io("writing it")(source));
        }
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io("syncing its directory"))?;
        let kek = Kek::from_bytes(&key);
        key.fill(0);
        kek
    }

    fn from_bytes(key: &[u8; KEK_LEN]) -> Result<Kek, Error> {
        let key = RandomizedNonceKey::new(&AES_256_GCM, key).map_err(|_| {
            Error::InvalidKeyMaterial("the key-encryption key was refused by AES-256-GCM".into())
        })?;
        Ok(Kek { key })
    }

    /// Seals `material` for root key `key_id` under a fresh random nonce.
    pub fn wrap(&self, key_id: &str, material: &KeyMaterial) -> WrappedKey {
        let mut sealed = material.to_bytes();
        // Sealing fails only when the system random source fails or the input exceeds GCM's
        // 64 GiB limit; neither can be caused by the caller, and no safe fallback exists.
        let nonce = self
            .key
            .seal_in_place_append_tag(Aad::from(key_id.as_bytes()), &mut sealed)
            .expect("AES-256-GCM sealing of a few kilobytes with a random nonce");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(WRAP_V1);
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&sealed);
        WrappedKey(out)
    }

    /// Opens what [`Kek::wrap`] sealed for `key_id`. Another KEK, another key ID or altered
    /// bytes give [`Error::Unwrap`].
    pub fn unwrap(&self, key_id: &str, wrapped: &WrappedKey) -> Result<KeyMaterial, Error> {
        let refused = || Error::Unwrap {
            key_id: key_id.to_string(),
        };
        let (&version, rest) = wrapped.0.split_first().ok_or_else(refused)?;
        if version != WRAP_V1 || rest.len() < NONCE_LEN + MAX_TAG_LEN {
            return Err(refused());
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| refused())?;
        let mut buffer = sealed.to_vec();
        let material =
            match self
                .key
                .open_in_place(nonce, Aad::from(key_id.as_bytes()), &mut buffer)
            {
                Ok(plain) => KeyMaterial::from_bytes(plain),
                Err(_) => Err(refused()),
            };
        buffer.fill(0);
        material
    }
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Kek(<redacted>)")
    }
}

/// A hidden file beside `path` with a random suffix, so concurrent or crashed attempts never
/// collide.
fn temp_path(path: &Path) -> Result<PathBuf, Error> {
    let mut suffix = [0u8; 8];
    aws_lc_rs::rand::fill(&mut suffix).map_err(|_| Error::KeyGeneration {
        what: "a temporary file name",
    })?;
    let name = path.file_name().ok_or_else(|| Error::KekFile {
        path: path.to_path_buf(),
        problem: "the path has no file name".into(),
    })?;
    let suffix: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    let mut temp = std::ffi::OsString::from(".");
    temp.push(name);
    temp.push(format!(".{suffix}.tmp"));
    Ok(path.with_file_name(temp))
}

/// Writes `bytes` to a new file only its owner can read, and flushes it to disk.
fn write_new_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

impl WrappedKey {
    /// The stored form: standard base64.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(&self.0)
    }

    pub fn from_base64(text: &str) -> Result<Self, Error> {
        STANDARD
            .decode(text.as_bytes())
            .map(WrappedKey)
            .map_err(|e| Error::WrappedEncoding(e.to_string()))
    }
}

impl Serialize for WrappedKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base64())
    }
}

impl<'de> Deserialize<'de> for WrappedKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        WrappedKey::from_base64(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kek_in(dir: &tempfile::TempDir, name: &str) -> Kek {
        Kek::load_or_create(&dir.path().join(name)).unwrap()
    }

    #[test]
    fn created_file_is_owner_only_and_reloads_to_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server/keyring/keyring.kek");
        let first = Kek::load_or_create(&path).unwrap();
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(meta.len(), KEK_LEN as u64);
        let parent = fs::metadata(path.parent().unwrap()).unwrap();
        assert_eq!(parent.permissions().mode() & 0o777, 0o700);
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);

        let material = KeyMaterial::generate().unwrap();
        let wrapped = first.wrap("k1", &material);
        let second = Kek::load_or_create(&path).unwrap();
        let back = second.unwrap("k1", &wrapped).unwrap();
        assert_eq!(back.to_bytes(), material.to_bytes());
    }

    #[test]
    fn a_file_others_can_read_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.kek");
        Kek::load_or_create(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = Kek::load_or_create(&path).unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains("mode 0644"), "{err}");
        assert!(err.contains("chmod 600"), "{err}");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        Kek::load_or_create(&path).unwrap();
    }

    #[test]
    fn a_file_of_the_wrong_length_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.kek");
        write_new_private_file(&path, &[7u8; 31]).unwrap();
        let err = Kek::load_or_create(&path).unwrap_err().to_string();
        assert!(err.contains("holds 31 bytes"), "{err}");
        assert!(err.contains(&path.display().to_string()), "{err}");
        // The refused file is left as it was.
        assert_eq!(fs::read(&path).unwrap(), vec![7u8; 31]);
    }

    #[test]
    fn a_directory_in_place_of_the_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = Kek::load_or_create(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
    }

    #[test]
    fn wrap_round_trips_and_never_contains_the_plain_material() {
        let dir = tempfile::tempdir().unwrap();
        let kek = kek_in(&dir, "a.kek");
        let material = KeyMaterial::generate().unwrap();
        let wrapped = kek.wrap("key-1", &material);
        let plain = material.to_bytes();
        assert!(
            !wrapped
                .0
                .windows(16)
                .any(|w| plain.windows(16).any(|p| p == w))
        );
        // Two wraps of the same material use different nonces.
        assert_ne!(kek.wrap("key-1", &material), wrapped);
        let back = kek.unwrap("key-1", &wrapped).unwrap();
        assert_eq!(back.to_bytes(), plain);
    }

    #[test]
    fn wrong_kek_wrong_key_id_and_tampering_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let kek = kek_in(&dir, "a.kek");
        let other = kek_in(&dir, "b.kek");
        let material = KeyMaterial::generate().unwrap();
        let wrapped = kek.wrap("key-1", &material);

        let err = other.unwrap("key-1", &wrapped).unwrap_err();
        assert!(
            matches!(&err, Error::Unwrap { key_id } if key_id == "key-1"),
            "{err}"
        );
        assert!(kek.unwrap("key-2", &wrapped).is_err());
        for at in [
            0,
            1,
            NONCE_LEN + 1,
            wrapped.0.len() / 2,
            wrapped.0.len() - 1,
        ] {
            let mut tampered = wrapped.clone();
            tampered.0[at] ^= 0x01;
            assert!(kek.unwrap("key-1", &tampered).is_err(), "byte {at}");
        }
        for len in [0, 1, NONCE_LEN + MAX_TAG_LEN, wrapped.0.len() - 1] {
            let truncated = WrappedKey(wrapped.0[..len].to_vec());
            assert!(kek.unwrap("key-1", &truncated).is_err(), "length {len}");
        }
    }

    #[test]
    fn wrapped_key_serializes_as_standard_base64() {
        let wrapped = WrappedKey(vec![0xfb, 0xff, 0x00, 0x10]);
        let json = serde_json::to_string(&wrapped).unwrap();
        assert_eq!(json, "\"+/8AEA==\"");
        assert_eq!(serde_json::from_str::<WrappedKey>(&json).unwrap(), wrapped);
        let err = serde_json::from_str::<WrappedKey>("\"not base64!\"").unwrap_err();
        assert!(err.to_string().contains("not base64"), "{err}");
    }

    #[test]
    fn debug_output_has_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(format!("{:?}", kek_in(&dir, "a.kek")), "Kek(<redacted>)");
    }
}
