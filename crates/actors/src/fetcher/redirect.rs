//! The redirect decision, as a pure function: whether a redirect response is followed,
//! and as what request. Pages and the crawler's own resources (robots.txt, sitemaps) use
//! it with their own limits and scope.

use arachne_core::{CrawlRequest, ErrorKind, Fingerprint, RecordError, normalize};
use url::Url;

/// Whether `status` is a redirect the crawler follows.
pub(crate) fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Where a `Location` header leads, resolved against the URL that answered, normalized.
pub(crate) fn location(answered: &Url, header: Option<&str>) -> Option<Url> {
    header
        .and_then(|l| answered.join(l.trim()).ok())
        .map(normalize)
}

/// Decides a redirect of `current` (answered with `status`) to `location`.
///
/// `chain` holds the fingerprints of the requests made so far, `current`'s included, and
/// `hops` the redirects met so far, this one included. `allowed` says whether the target
/// is in scope. Gives the next request, or why the redirect is not followed.
pub(crate) fn decide(
    current: &CrawlRequest,
    status: u16,
    location: Option<Url>,
    chain: &[Fingerprint],
    hops: usize,
    max_hops: usize,
    allowed: impl FnOnce(&Url) -> bool,
) -> Result<CrawlRequest, RecordError> {
    let error = |kind, message| Err(RecordError { kind, message });
    let Some(location) = location else {
        return error(
            ErrorKind::RedirectInvalid,
            format!("{status} redirect without a valid Location"),
        );
    };
    if !matches!(location.scheme(), "http" | "https") {
        return error(
            ErrorKind::RedirectBadScheme,
            format!("redirect to {location} not followed: only http and https"),
        );
    }
    if hops > max_hops {
        return error(
            ErrorKind::TooManyRedirects,
            format!("more than {max_hops} redirects"),
        );
    }
    let next = current.redirected(location, status);
    // A request already made in this chain: a loop. A POST answered by a 303 to its own
    // URL is not one: the next request is a GET.
    if chain.contains(&next.fingerprint()) {
        return error(
            ErrorKind::RedirectLoop,
            format!("redirect loop back to {}", next.url),
        );
    }
    if !allowed(&next.url) {
        return error(
            ErrorKind::RedirectOutOfScope,
            format!("redirect to {} not followed: out of scope", next.url),
        );
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use arachne_core::Request;

    use super::*;

    fn get(url: &str) -> CrawlRequest {
        Request::get(url).resolve(None, 0, None).unwrap()
    }

    fn url(text: &str) -> Option<Url> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn follows_within_the_rules() {
        let a = get("http://a.test/");
        let next = decide(
            &a,
            301,
            url("http://a.test/b"),
            &[a.fingerprint()],
            1,
            10,
            |_| true,
        );
        assert_eq!(next.unwrap().url.as_str(), "http://a.test/b");
        assert_eq!(
            location(&a.url, Some(" /x/../y#f ")).unwrap().as_str(),
            "http://a.test/y"
        );
        assert!(is_redirect(308) && !is_redirect(304) && !is_redirect(300));
    }

    #[test]
    fn refuses_with_a_reason() {
        let a = get("http://a.test/");
        let chain = [a.fingerprint()];
        let kind = |r: Result<CrawlRequest, RecordError>| r.unwrap_err().kind;
        assert_eq!(
            kind(decide(&a, 302, None, &chain, 1, 10, |_| true)),
            ErrorKind::RedirectInvalid
        );
        assert_eq!(
            kind(decide(&a, 302, url("ftp://a.test/"), &chain, 1, 10, |_| {
                true
            })),
            ErrorKind::RedirectBadScheme
        );
        assert_eq!(
            kind(decide(
                &a,
                302,
                url("http://a.test/b"),
                &chain,
                11,
                10,
                |_| true
            )),
            ErrorKind::TooManyRedirects
        );
        assert_eq!(
            kind(decide(
                &a,
                302,
                url("http://a.test/"),
                &chain,
                1,
                10,
                |_| true
            )),
            ErrorKind::RedirectLoop
        );
        assert_eq!(
            kind(decide(
                &a,
                302,
                url("http://b.test/"),
                &chain,
                1,
                10,
                |_| false
            )),
            ErrorKind::RedirectOutOfScope
        );
    }

    #[test]
    fn a_post_redirected_to_itself_by_303_is_a_get() {
        let post = Request::post("http://a.test/form")
            .form(&[("a", "1")])
            .resolve(None, 0, None)
            .unwrap();
        let chain = [post.fingerprint()];
        let next = decide(&post, 303, url("http://a.test/form"), &chain, 1, 10, |_| {
            true
        })
        .unwrap();
        assert_eq!(next.method(), &http::Method::GET);
        let again = decide(&post, 307, url("http://a.test/form"), &chain, 1, 10, |_| {
            true
        });
        assert_eq!(
            again.unwrap_err().kind,
            ErrorKind::RedirectLoop,
            "307 keeps the POST"
        );
    }
}
