//! robots.txt rules (RFC 9309), parsed once per host and queried for every URL.

use std::fmt;
use std::time::Duration;

use url::Url;

/// The most bytes of a robots.txt that are read; the rest is ignored (RFC 9309 asks
/// crawlers to parse at least 500 KiB).
pub const ROBOTS_MAX_BYTES: u64 = 500 * 1024;

/// The rules of one host's robots.txt for one user agent.
pub struct RobotsRules {
    /// `None` means everything is allowed (robots.txt missing, 4xx, or ignored).
    robot: Option<texting_robots::Robot>,
}

impl fmt::Debug for RobotsRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RobotsRules")
            .field("allow_all", &self.robot.is_none())
            .field("crawl_delay", &self.crawl_delay())
            .field("sitemaps", &self.sitemaps())
            .finish()
    }
}

impl RobotsRules {
    /// Rules that allow everything: for a robots.txt that answered 4xx (RFC 9309 section
    /// 2.3.1.3), or when robots.txt is ignored.
    pub fn allow_all() -> Self {
        Self { robot: None }
    }

    /// Parses a robots.txt body for the agent's product token (see [`product_token`]).
    /// Only the first [`ROBOTS_MAX_BYTES`] count. A body that does not parse at all
    /// allows everything.
    pub fn parse(product_token: &str, body: &[u8]) -> Self {
        let body = &body[..body.len().min(ROBOTS_MAX_BYTES as usize)];
        Self {
            robot: texting_robots::Robot::new(product_token, body).ok(),
        }
    }

    /// Whether the rules allow fetching `url`. `/robots.txt` itself is always allowed.
    pub fn allowed(&self, url: &Url) -> bool {
        match &self.robot {
            None => true,
            Some(_) if url.path() == "/robots.txt" => true,
            Some(robot) => robot.allowed(url.as_str()),
        }
    }

    /// The `Crawl-delay` for this agent, if any (negative or absurd values are ignored).
    pub fn crawl_delay(&self) -> Option<Duration> {
        let secs = self.robot.as_ref()?.delay?;
        Duration::try_from_secs_f32(secs).ok()
    }

    /// The `Sitemap:` URLs listed.
    pub fn sitemaps(&self) -> &[String] {
        self.robot.as_ref().map_or(&[], |robot| &robot.sitemaps)
    }
}

/// The product token of a user agent, matched against robots.txt `User-agent` lines: the
/// text before the first `/`, space or `(`. `arachne/0.1 (+https://...)` gives `arachne`.
pub fn product_token(user_agent: &str) -> &str {
    let agent = user_agent.trim();
    let end = agent
        .find(|c: char| c == '/' || c == '(' || c.is_whitespace())
        .unwrap_or(agent.len());
    &agent[..end]
}

/// The robots.txt URL that governs `url`: same scheme, host and port, path `/robots.txt`.
pub fn robots_url(url: &Url) -> Url {
    let mut robots = url.clone();
    robots.set_path("/robots.txt");
    robots.set_query(None);
    robots.set_fragment(None);
    robots
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        s.parse().unwrap()
    }

    #[test]
    fn rules_for_our_token() {
        let txt = b"User-agent: *\nDisallow: /private\n\nUser-agent: arachne\nDisallow: /secret\nCrawl-delay: 2\nSitemap: http://a.test/sitemap.xml\n";
        let rules = RobotsRules::parse(product_token(crate::DEFAULT_USER_AGENT), txt);
        assert!(!rules.allowed(&url("http://a.test/secret/x")));
        assert!(
            rules.allowed(&url("http://a.test/private")),
            "the group for our token wins over *"
        );
        assert!(rules.allowed(&url("http://a.test/robots.txt")));
        assert_eq!(rules.crawl_delay(), Some(Duration::from_secs(2)));
        assert_eq!(rules.sitemaps(), ["http://a.test/sitemap.xml"]);
        let other = RobotsRules::parse("otherbot", txt);
        assert!(!other.allowed(&url("http://a.test/private")));
    }

    #[test]
    fn allow_all_and_helpers() {
        assert!(RobotsRules::allow_all().allowed(&url("http://a.test/anything")));
        assert_eq!(product_token("arachne/0.1 (+https://x)"), "arachne");
        assert_eq!(product_token("MyBot"), "MyBot");
        assert_eq!(
            robots_url(&url("https://a.test:8443/x/y?q#f")).as_str(),
            "https://a.test:8443/robots.txt"
        );
    }
}
