//! The crawler's own resources: robots.txt and sitemaps, fetched without hooks.

use super::*;

/// GETs a URL for the crawler's own use (robots.txt, sitemaps), following up to five
/// redirects (on the same host, or to hosts the scope covers; each archived), and reads at
/// most `max` bytes. Gives the final status and body, or why not.
pub(super) async fn get_resource(
    ctx: &FetchContext,
    url: &Url,
    max: u64,
    archived: &mut Vec<Arc<HttpExchange>>,
) -> Result<(u16, Bytes), RecordError> {
    let mut current = CrawlRequest::seed(url.clone());
    let mut chain = vec![current.fingerprint()];
    for hops in 1.. {
        let url = current.url.clone();
        let (mut response, head) = send(ctx, &Outbound::get(&url)).await?;
        let keep_raw = ctx.shared.archiving();
        if redirect::is_redirect(head.status) {
            // Read the (small) body so the connection can be reused, and archive the hop.
            let (body, _) = read_body(&mut response, &head, 64 * 1024, keep_raw).await;
            archived.extend(archive(ctx, &url, &Sent::get(), &head, &body).await);
            let header = head.headers.get(LOCATION).and_then(|v| v.to_str().ok());
            let location = redirect::location(&url, header);
            // Staying on the host already asked (http to https, say) leaves nothing.
            let allowed = |next: &Url| {
                next.host_str() == url.host_str() || ctx.shared.scope.get().covers_host(next)
            };
            current = redirect::decide(
                &current,
                head.status,
                location,
                &chain,
                hops,
                MAX_RESOURCE_REDIRECTS,
                allowed,
            )?;
            chain.push(current.fingerprint());
            continue;
        }
        let (body, error) = read_body(&mut response, &head, max, keep_raw).await;
        if let Some(error) = error {
            return Err(error);
        }
        archived.extend(archive(ctx, &url, &Sent::get(), &head, &body).await);
        return Ok((head.status, body.decoded));
    }
    unreachable!("the loop returns")
}

/// The most redirects followed for robots.txt and sitemaps (RFC 9309 asks for five).
const MAX_RESOURCE_REDIRECTS: usize = 5;

/// Fetches a host's robots.txt (RFC 9309): 2xx gives rules, 4xx allows all, 5xx, 429 and
/// network failures make it unavailable for now.
pub(super) async fn run_robots(ctx: &FetchContext, job: FetchJob) -> Finished {
    let host = host_key(&job.target).into_owned();
    let unavailable = |message: String| {
        RobotsOutcome::Unavailable(RecordError {
            kind: ErrorKind::RobotsUnavailable,
            message,
        })
    };
    let allow_all = || RobotsOutcome::Rules(RobotsRules::allow_all(), RobotsFetch::AllowAll);
    let mut archived = Vec::new();
    let outcome = match get_resource(ctx, &job.target, ROBOTS_MAX_BYTES, &mut archived).await {
        Ok((status, body)) if (200..300).contains(&status) => RobotsOutcome::Rules(
            RobotsRules::parse(&ctx.shared.product_token, &body),
            RobotsFetch::Body(String::from_utf8_lossy(&body).into_owned()),
        ),
        Ok((429, _)) => unavailable("robots.txt answered 429".into()),
        Ok((status, _)) if (400..500).contains(&status) => allow_all(),
        Ok((status, _)) => unavailable(format!("robots.txt answered {status}")),
        // A refused address: the pages' own fetches are refused and say so.
        Err(error) if error.kind == ErrorKind::DeniedAddress => allow_all(),
        Err(error) if error.kind == ErrorKind::RedirectOutOfScope => {
            RobotsOutcome::RedirectOutOfScope(error.message)
        }
        // A redirect that cannot be followed: RFC 9309 lets a crawler take robots.txt as
        // unavailable, which allows everything (as a 4xx).
        Err(error)
            if matches!(
                error.kind,
                ErrorKind::TooManyRedirects
                    | ErrorKind::RedirectLoop
                    | ErrorKind::RedirectInvalid
                    | ErrorKind::RedirectBadScheme
            ) =>
        {
            allow_all()
        }
        // The host itself cannot be reached: its pages' records say so, with this kind.
        Err(error) if matches!(error.kind, ErrorKind::Connect | ErrorKind::Timeout) => {
            RobotsOutcome::Unavailable(error)
        }
        Err(error) => unavailable(error.message),
    };
    Finished::Robots {
        host,
        outcome,
        archived,
    }
}

/// Fetches a sitemap and has a parser thread read it.
pub(super) async fn run_sitemap(
    ctx: &FetchContext,
    job: FetchJob,
    nesting: u32,
    from_user: bool,
) -> Finished {
    let mut done = SitemapDone {
        url: job.target.clone(),
        pages: Vec::new(),
        nested: Vec::new(),
        nesting,
        from_user,
        counts: LinkCounts::default(),
        error: None,
        redirect_out_of_scope: false,
        archived: Vec::new(),
    };
    let fetched = get_resource(ctx, &job.target, SITEMAP_MAX_BYTES, &mut done.archived).await;
    match fetched {
        Err(error) => {
            done.redirect_out_of_scope = error.kind == ErrorKind::RedirectOutOfScope;
            done.error = Some(format!("{}: {}", error.kind, error.message));
        }
        Ok((status, _)) if !(200..300).contains(&status) => {
            done.error = Some(format!("HTTP status {status}"));
        }
        Ok((_, body)) => match ctx.shared.parser.send(ParseSitemap { body }).await {
            Ok(Ok(out)) => {
                done.pages = out.pages;
                done.nested = out.sitemaps;
                done.counts = out.counts;
            }
            Ok(Err(message)) => done.error = Some(message),
            Err(e) => done.error = Some(format!("parser unavailable: {e}")),
        },
    }
    Finished::Sitemap(Box::new(done))
}
