//! Fixed-size fingerprints of normalized URLs.

use std::hash::{BuildHasherDefault, Hasher};

use url::Url;

/// A 128-bit fingerprint of a normalized URL (XXH3-128 of its text).
///
/// The seen set stores fingerprints instead of URL strings, so its memory per URL is fixed
/// (16 bytes plus the table's overhead) whatever the length of the URL. With 128 bits, the
/// chance of two different URLs colliding in a crawl of a billion URLs is about 10^-21.
/// The hash is stable across runs, processes and machines, so fingerprints can be stored
/// on disk or shared through Redis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(u128);

impl Fingerprint {
    /// The fingerprint of a URL's text. Normalize the URL first (see [`crate::normalize`]).
    pub fn of(url: &Url) -> Self {
        Self::of_str(url.as_str())
    }

    /// The fingerprint of a URL given as text.
    pub fn of_str(url: &str) -> Self {
        Self(xxhash_rust::xxh3::xxh3_128(url.as_bytes()))
    }

    /// The fingerprint of several byte strings taken together (each length-prefixed, so
    /// that `["ab", "c"]` and `["a", "bc"]` differ): a request's method, URL and body.
    pub fn of_parts(parts: &[&[u8]]) -> Self {
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        for part in parts {
            hasher.update(&(part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        Self(hasher.digest128())
    }

    /// The fingerprint as a number.
    pub fn as_u128(self) -> u128 {
        self.0
    }

    /// The fingerprint's 16 bytes, big-endian: the form to store or send.
    pub fn to_bytes(self) -> [u8; 16] {
        self.0.to_be_bytes()
    }

    /// A fingerprint from the bytes given by [`Fingerprint::to_bytes`].
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(u128::from_be_bytes(bytes))
    }
}

/// A hasher for keys that are already uniformly distributed hashes: it keeps the low 64 bits
/// of a fingerprint instead of hashing it again.
#[derive(Default)]
pub struct FingerprintHasher(u64);

impl Hasher for FingerprintHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only reached for keys other than fingerprints; fold them in with FNV-1a.
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u128(&mut self, value: u128) {
        self.0 ^= value as u64;
    }
}

/// The `BuildHasher` for maps keyed by [`Fingerprint`].
pub type BuildFingerprintHasher = BuildHasherDefault<FingerprintHasher>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_and_distinct() {
        let a = Fingerprint::of_str("http://a.test/");
        assert_eq!(a, Fingerprint::of_str("http://a.test/"));
        assert_ne!(a, Fingerprint::of_str("http://a.test/x"));
        assert_eq!(Fingerprint::from_bytes(a.to_bytes()), a);
        // Pinned: stored fingerprints must stay valid across releases.
        assert_eq!(
            Fingerprint::of_str("").as_u128(),
            0x99aa_06d3_0147_98d8_6001_c324_468d_497f
        );
    }
}
