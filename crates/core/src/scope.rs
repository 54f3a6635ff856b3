//! Scope rules: which discovered URLs the crawl follows.

use std::fmt;
use std::str::FromStr;

use regex::{Regex, RegexSet};
use url::{Host, Url};

/// Which URLs, relative to the seeds, are in the crawl.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[non_exhaustive]
pub enum Scope {
    /// The host name of a seed, exactly (`docs.example.com` does not reach `example.com`).
    /// Any port and scheme of that host. The default.
    #[default]
    Host,
    /// The registrable domain of a seed and all its subdomains: a seed on
    /// `www.example.co.uk` reaches `shop.example.co.uk`, but not `other.co.uk`. Registrable
    /// domains come from the public suffix list, compiled in.
    Domain,
    /// URLs under a seed's directory, on the same scheme, host and port, like
    /// `wget --no-parent`: a seed `http://a.test/docs/intro.html` reaches
    /// `http://a.test/docs/api/x` but not `http://a.test/blog/`.
    Prefix,
    /// Every http and https URL. Combine with a depth or page limit, or include rules.
    Any,
}

impl Scope {
    /// The names accepted by [`Scope::from_str`], in order.
    pub const NAMES: [&'static str; 4] = ["host", "domain", "prefix", "any"];
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "host" => Ok(Scope::Host),
            "domain" => Ok(Scope::Domain),
            "prefix" => Ok(Scope::Prefix),
            "any" => Ok(Scope::Any),
            _ => Err(format!(
                "unknown scope `{s}`: expected one of host, domain, prefix, any"
            )),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Scope::Host => "host",
            Scope::Domain => "domain",
            Scope::Prefix => "prefix",
            Scope::Any => "any",
        };
        f.write_str(name)
    }
}

/// A regular expression given to include or exclude rules was invalid.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid {which} pattern `{pattern}`: {message}")]
pub struct PatternError {
    /// `include` or `exclude`.
    pub which: &'static str,
    /// The pattern as given.
    pub pattern: String,
    /// What is wrong with it.
    pub message: String,
}

/// The compiled scope of a crawl: a [`Scope`] relative to the seeds, plus include and
/// exclude patterns matched against the whole normalized URL.
///
/// A URL is in scope when it is in the [`Scope`] of at least one seed, matches at least one
/// include pattern (when any are given), and matches no exclude pattern. Seeds themselves
/// are always crawled.
///
/// When a seed redirects, its part of the scope is taken from where it lands
/// ([`ScopeRules::landed`]): a `prefix` seed `http://a.test/book` that redirects to
/// `/book/` covers `/book/`, not the whole host.
#[derive(Debug, Clone)]
pub struct ScopeRules {
    scope: Scope,
    /// What each seed allows.
    anchors: Vec<Anchor>,
    include: Option<RegexSet>,
    exclude: Option<RegexSet>,
}

/// The part of the scope that one seed gives.
#[derive(Debug, Clone)]
struct Anchor {
    /// The seed as given (normalized): the key by which a landing replaces this anchor.
    seed: Url,
    /// What [`ScopeRules::allows`] compares (see [`anchor`]).
    key: Option<String>,
    /// What [`ScopeRules::covers_host`] compares: the host name, or the registrable
    /// domain for [`Scope::Domain`].
    host: Option<String>,
}

impl Anchor {
    fn new(scope: Scope, seed: Url, at: &Url) -> Self {
        Self {
            key: anchor(scope, at),
            host: anchor_name(scope, at).map(str::to_owned),
            seed,
        }
    }
}

impl ScopeRules {
    /// Compiles the rules.
    ///
    /// # Errors
    /// A [`PatternError`] names the first invalid pattern.
    pub fn new(
        scope: Scope,
        seeds: &[Url],
        include: &[String],
        exclude: &[String],
    ) -> Result<Self, PatternError> {
        let anchors = seeds
            .iter()
            .map(|seed| Anchor::new(scope, seed.clone(), seed))
            .collect();
        Ok(Self {
            scope,
            anchors,
            include: compile("include", include)?,
            exclude: compile("exclude", exclude)?,
        })
    }

    /// The scope these rules apply.
    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// Whether a normalized URL is in scope.
    pub fn allows(&self, url: &Url) -> bool {
        let inside = match self.scope {
            Scope::Any => true,
            Scope::Prefix => anchor(self.scope, url)
                .is_some_and(|key| self.keys().any(|dir| key.starts_with(dir))),
            Scope::Host | Scope::Domain => {
                anchor_name(self.scope, url).is_some_and(|key| self.keys().any(|a| a == key))
            }
        };
        if !inside {
            return false;
        }
        if let Some(include) = &self.include
            && !include.is_match(url.as_str())
        {
            return false;
        }
        if let Some(exclude) = &self.exclude
            && exclude.is_match(url.as_str())
        {
            return false;
        }
        true
    }

    /// Whether the crawler may fetch its own resources (robots.txt, sitemaps) at `url`:
    /// whether the URL is on a host the scope covers. That is the host of a seed for
    /// [`Scope::Host`] and [`Scope::Prefix`] (any scheme and port: robots.txt and sitemaps
    /// live at the root, outside a prefix), the registrable domain of one for
    /// [`Scope::Domain`], and any host for [`Scope::Any`]. The include and exclude
    /// patterns, which are about pages, do not apply.
    pub fn covers_host(&self, url: &Url) -> bool {
        match self.scope {
            Scope::Any => true,
            Scope::Host | Scope::Prefix | Scope::Domain => {
                let name = match self.scope {
                    Scope::Prefix => anchor_name(Scope::Host, url),
                    scope => anchor_name(scope, url),
                };
                name.is_some_and(|name| {
                    self.anchors.iter().any(|a| a.host.as_deref() == Some(name))
                })
            }
        }
    }

    /// The rules after `seed` redirected and landed at `landing`: the seed's part of the
    /// scope is taken from `landing` instead. `None` when `seed` is not a seed of these
    /// rules or its part does not change.
    pub fn landed(&self, seed: &Url, landing: &Url) -> Option<ScopeRules> {
        if self.scope == Scope::Any {
            // Every URL is in scope, wherever a seed lands.
            return None;
        }
        let landed = Anchor::new(self.scope, seed.clone(), landing);
        let mut changed = false;
        let mut rules = self.clone();
        for anchor in rules.anchors.iter_mut().filter(|a| a.seed == *seed) {
            if anchor.key != landed.key || anchor.host != landed.host {
                *anchor = landed.clone();
                changed = true;
            }
        }
        changed.then_some(rules)
    }

    /// The rules with only the parts of the seeds that `keep` accepts: what is in scope
    /// whatever the other seeds turn out to be, while they have not landed yet.
    pub fn only_seeds(&self, keep: impl Fn(&Url) -> bool) -> ScopeRules {
        let mut rules = self.clone();
        rules.anchors.retain(|a| keep(&a.seed));
        rules
    }

    fn keys(&self) -> impl Iterator<Item = &str> {
        self.anchors.iter().filter_map(|a| a.key.as_deref())
    }
}

/// Whether two URLs are on the same site: the same registrable domain (by the public
/// suffix list), or the same host when it has none (an IP address, `localhost`). A seed may
/// redirect within its site and take its scope from there; `http://example.com/` landing on
/// `https://www.example.com/` is the common case.
pub fn same_site(a: &Url, b: &Url) -> bool {
    match (anchor_name(Scope::Domain, a), anchor_name(Scope::Domain, b)) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        _ => false,
    }
}

fn compile(which: &'static str, patterns: &[String]) -> Result<Option<RegexSet>, PatternError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    for pattern in patterns {
        Regex::new(pattern).map_err(|e| PatternError {
            which,
            pattern: pattern.clone(),
            message: e.to_string(),
        })?;
    }
    RegexSet::new(patterns).map(Some).map_err(|e| PatternError {
        which,
        pattern: patterns.join(" | "),
        message: e.to_string(),
    })
}

/// The part of a URL that a scope compares: the host, the registrable domain, or the
/// origin plus directory. For the domain and prefix scopes of a candidate URL this is the
/// same computation as for a seed, so comparison is equality (or prefix).
fn anchor(scope: Scope, url: &Url) -> Option<String> {
    match scope {
        Scope::Host | Scope::Any | Scope::Domain => anchor_name(scope, url).map(str::to_owned),
        Scope::Prefix => {
            let host = url.host_str()?;
            let path = url.path();
            let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
            let port = url.port_or_known_default().unwrap_or(0);
            Some(format!("{}://{host}:{port}{dir}", url.scheme()))
        }
    }
}

/// The host or registrable domain of a URL, borrowed (the hot path allocates nothing).
fn anchor_name(scope: Scope, url: &Url) -> Option<&str> {
    let host = url.host_str()?;
    match (scope, url.host()?) {
        (Scope::Domain, Host::Domain(name)) => {
            let name = name.trim_end_matches('.');
            Some(psl::domain_str(name).unwrap_or(name))
        }
        _ => Some(host),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(scope: Scope, seeds: &[&str]) -> ScopeRules {
        let seeds: Vec<Url> = seeds.iter().map(|s| s.parse().unwrap()).collect();
        ScopeRules::new(scope, &seeds, &[], &[]).unwrap()
    }

    fn allows(rules: &ScopeRules, url: &str) -> bool {
        rules.allows(&url.parse().unwrap())
    }

    #[test]
    fn host_scope() {
        let r = rules(Scope::Host, &["http://www.a.test/x/"]);
        assert!(allows(&r, "http://www.a.test/other"));
        assert!(allows(&r, "https://www.a.test:8443/other"));
        assert!(!allows(&r, "http://a.test/"));
        assert!(!allows(&r, "http://sub.www.a.test/"));
        assert!(!allows(&r, "http://b.test/"));
    }

    #[test]
    fn domain_scope_uses_public_suffixes() {
        let r = rules(Scope::Domain, &["http://www.example.co.uk/"]);
        assert!(allows(&r, "http://shop.example.co.uk/"));
        assert!(allows(&r, "http://example.co.uk/"));
        assert!(!allows(&r, "http://other.co.uk/"));
        assert!(!allows(&r, "http://example.com/"));
        let r = rules(Scope::Domain, &["http://a.example.test/"]);
        assert!(allows(&r, "http://b.example.test/"));
        assert!(!allows(&r, "http://other.test/"));
        let r = rules(Scope::Domain, &["http://127.0.0.1:8080/"]);
        assert!(allows(&r, "http://127.0.0.1:9/"));
        assert!(!allows(&r, "http://127.0.0.2/"));
    }

    #[test]
    fn prefix_scope_is_the_seed_directory() {
        let r = rules(Scope::Prefix, &["http://a.test/docs/intro.html"]);
        assert!(allows(&r, "http://a.test/docs/"));
        assert!(allows(&r, "http://a.test/docs/api/x.html"));
        assert!(!allows(&r, "http://a.test/docsearch"));
        assert!(!allows(&r, "http://a.test/blog/"));
        assert!(!allows(&r, "https://a.test/docs/"));
        assert!(!allows(&r, "http://a.test:81/docs/"));
    }

    #[test]
    fn any_scope_and_patterns() {
        let seeds = ["http://a.test/".parse().unwrap()];
        let r = ScopeRules::new(
            Scope::Any,
            &seeds,
            &[r"/keep/".into(), r"\.html$".into()],
            &[r"private".into()],
        )
        .unwrap();
        assert!(allows(&r, "http://z.test/keep/1"));
        assert!(allows(&r, "http://z.test/a.html"));
        assert!(!allows(&r, "http://z.test/other"));
        assert!(!allows(&r, "http://z.test/keep/private"));
    }

    #[test]
    fn bad_pattern_is_named() {
        let err = ScopeRules::new(Scope::Host, &[], &[], &["(".into()]).unwrap_err();
        assert_eq!(err.which, "exclude");
        assert_eq!(err.pattern, "(");
    }

    #[test]
    fn resources_on_covered_hosts() {
        let r = rules(Scope::Prefix, &["http://a.test/docs/"]);
        assert!(r.covers_host(&"http://a.test/sitemap.xml".parse().unwrap()));
        assert!(r.covers_host(&"https://a.test:8443/robots.txt".parse().unwrap()));
        assert!(!r.covers_host(&"http://b.test/sitemap.xml".parse().unwrap()));
        let r = rules(Scope::Host, &["http://127.0.0.1:8080/"]);
        assert!(!r.covers_host(&"http://127.0.0.2:8080/sitemap.xml".parse().unwrap()));
        let r = rules(Scope::Domain, &["http://www.a.test/"]);
        assert!(r.covers_host(&"http://cdn.a.test/s.xml".parse().unwrap()));
        assert!(!r.covers_host(&"http://a2.test/s.xml".parse().unwrap()));
        let r = rules(Scope::Any, &["http://a.test/"]);
        assert!(r.covers_host(&"http://anywhere.test/s.xml".parse().unwrap()));
    }

    #[test]
    fn a_seed_takes_its_scope_from_where_it_lands() {
        let seed: Url = "http://a.test/book".parse().unwrap();
        let r = rules(Scope::Prefix, &[seed.as_str(), "http://a.test/other/"]);
        assert!(
            allows(&r, "http://a.test/blog/"),
            "the seed's directory is /"
        );
        let landed = r
            .landed(&seed, &"http://a.test/book/".parse().unwrap())
            .unwrap();
        assert!(allows(&landed, "http://a.test/book/ch1"));
        assert!(
            allows(&landed, "http://a.test/other/x"),
            "other seeds keep theirs"
        );
        assert!(!allows(&landed, "http://a.test/blog/"));
        assert!(
            landed
                .landed(&seed, &"http://a.test/book/index.html".parse().unwrap())
                .is_none()
        );

        let r = rules(Scope::Host, &["http://a.test/"]);
        let seed: Url = "http://a.test/".parse().unwrap();
        let landed = r
            .landed(&seed, &"https://www.a.test/".parse().unwrap())
            .unwrap();
        assert!(allows(&landed, "https://www.a.test/x"));
        assert!(!allows(&landed, "http://a.test/x"));
        assert!(landed.covers_host(&"https://www.a.test/robots.txt".parse().unwrap()));
        let stranger: Url = "http://b.test/".parse().unwrap();
        assert!(r.landed(&stranger, &seed).is_none(), "not a seed");
        let any = rules(Scope::Any, &["http://a.test/"]);
        assert!(
            any.landed(&seed, &stranger).is_none(),
            "any scope does not change"
        );
    }

    #[test]
    fn the_scope_of_landed_seeds_only() {
        let a: Url = "http://a.test/a".parse().unwrap();
        let r = rules(Scope::Prefix, &[a.as_str(), "http://a.test/b/"]);
        let settled = r.only_seeds(|seed| *seed != a);
        assert!(allows(&settled, "http://a.test/b/1"));
        assert!(
            !allows(&settled, "http://a.test/x"),
            "only the pending seed allows it"
        );
        assert!(allows(&r, "http://a.test/x"));
    }

    #[test]
    fn sites() {
        let url = |s: &str| s.parse::<Url>().unwrap();
        assert!(same_site(
            &url("http://example.com/"),
            &url("https://www.example.com/x")
        ));
        assert!(same_site(
            &url("http://a.example.co.uk/"),
            &url("http://b.example.co.uk/")
        ));
        assert!(!same_site(
            &url("http://example.com/"),
            &url("http://example.org/")
        ));
        assert!(same_site(
            &url("http://127.0.0.1:1/"),
            &url("http://127.0.0.1:2/")
        ));
        assert!(!same_site(
            &url("http://127.0.0.1/"),
            &url("http://docs.example.org/")
        ));
        assert!(!same_site(
            &url("http://localhost/"),
            &url("http://127.0.0.1/")
        ));
    }

    #[test]
    fn scope_names() {
        for name in Scope::NAMES {
            assert_eq!(name.parse::<Scope>().unwrap().to_string(), name);
        }
        assert!("nope".parse::<Scope>().is_err());
    }
}
