//! Crawler-trap guards that need only the URL.

use url::Url;

/// The longest URL followed by default, in bytes.
pub const DEFAULT_MAX_URL_LENGTH: usize = 2048;

/// How many times in a row a run of path segments may appear before the path is taken for
/// a trap (`/a/b/a/b/a/b/` repeats `a/b` three times).
pub const MAX_SEGMENT_REPEATS: usize = 3;

/// Whether the path repeats a run of one to four segments [`MAX_SEGMENT_REPEATS`] times
/// in a row, the mark of relative links that grow the path on every hop
/// (`/a/b/a/b/a/b/...`, `/x/x/x/`).
pub fn has_repeating_segments(url: &Url) -> bool {
    let path = url.path();
    // Most paths are too short to repeat anything: decide without allocating.
    if path.bytes().filter(|&b| b == b'/').count() < MAX_SEGMENT_REPEATS {
        return false;
    }
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let n = segments.len();
    for width in 1..=4 {
        if width * MAX_SEGMENT_REPEATS > n {
            break;
        }
        for start in 0..=n - width * MAX_SEGMENT_REPEATS {
            let run = &segments[start..start + width];
            if (1..MAX_SEGMENT_REPEATS)
                .all(|k| &segments[start + k * width..start + (k + 1) * width] == run)
            {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn traps(path: &str) -> bool {
        has_repeating_segments(&format!("http://a.test{path}").parse().unwrap())
    }

    #[test]
    fn repeating_runs() {
        assert!(traps("/a/b/a/b/a/b/"));
        assert!(traps("/x/x/x"));
        assert!(traps("/docs/a/b/c/a/b/c/a/b/c/page"));
        assert!(!traps("/a/b/a/b/"));
        assert!(!traps("/2024/01/01/post"));
        assert!(!traps("/"));
        assert!(!traps("/a/b/c/d/e/f/g"));
    }
}
