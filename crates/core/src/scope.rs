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
#[derive(Debug, Clone)]
pub struct ScopeRules {
    scope: Scope,
    /// What each seed allows, in the form the scope compares.
    anchors: Vec<String>,
    include: Option<RegexSet>,
    exclude: Option<RegexSet>,
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
            .filter_map(|seed| anchor(scope, seed))
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
                .is_some_and(|key| self.anchors.iter().any(|dir| key.starts_with(dir.as_str()))),
            Scope::Host | Scope::Domain => anchor_name(self.scope, url)
                .is_some_and(|key| self.anchors.iter().any(|a| a == key)),
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
    fn scope_names() {
        for name in Scope::NAMES {
            assert_eq!(name.parse::<Scope>().unwrap().to_string(), name);
        }
        assert!("nope".parse::<Scope>().is_err());
    }
}
