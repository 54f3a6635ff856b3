//! A small shop, the way scraping work meets one: categories, paginated lists, product
//! pages with prices (some without), a login form that sets a session cookie, members'
//! pages behind it, and a paginated JSON API. The markup follows the sites people learn
//! scraping on (books.toscrape.com, quotes.toscrape.com), so that examples written
//! against it run against those too.
//!
//! | path | what |
//! |---|---|
//! | `/` (or `/index.html`) and `/catalogue/page-{n}.html` | every book, 5 a page (`article.product_pod h3 a`), `li.next a` to the next page, and the categories (`.side_categories ul li ul li a`) |
//! | `/catalogue/category/{slug}/index.html`, `page-{n}.html` | the same, for a category |
//! | `/catalogue/{id}/index.html` | a book: `.product_main h1`, `.product_main p.price_color` (`£12.34`; missing on every 7th book) |
//! | `/login` | a form (GET); a POST of `username=reader&password=secret&csrf_token=…` sets `session=…` and redirects (303) to `/account` |
//! | `/account` | with the session cookie: links to `/members/1` … `/members/3`; without: a redirect to `/login` |
//! | `/members/{n}` | with the cookie: `h1` "Member page n"; without: 403 |
//! | `/api/books?page=N` | JSON: `{"page", "books": [{"id", "title", "price"}], "next"}`, `next` a path or `null` |

use std::fmt::Write as _;

use crate::server::{Request, Response, TestServer};

/// The session cookie's value after a login.
pub const SESSION: &str = "s3ss10n-7d1f";
/// The login form's hidden token.
pub const CSRF: &str = "csrf-91ab";
/// The user and password the login form accepts.
pub const CREDENTIALS: (&str, &str) = ("reader", "secret");
/// Books on one list page and one API page.
pub const PAGE_SIZE: usize = 5;
/// The members' pages behind the login.
pub const MEMBER_PAGES: usize = 3;

const TITLES: [&str; 12] = [
    "A Light in the Attic",
    "Tipping the Velvet",
    "Soumission",
    "Sharp Objects",
    "Sapiens",
    "The Requiem Red",
    "The Dirty Little Secrets",
    "The Coming Woman",
    "The Boys in the Boat",
    "The Black Maria",
    "Starving Hearts",
    "Shakespeare's Sonnets",
];

/// One book of the shop.
#[derive(Debug, Clone, PartialEq)]
pub struct Book {
    /// Its id, from 1.
    pub id: usize,
    /// Its title.
    pub title: String,
    /// Its category's slug.
    pub category: &'static str,
    /// Its price in pounds; `None` on every 7th book ("price on request").
    pub price: Option<f64>,
}

/// The shop: a deterministic catalogue. See the [module docs](self) for its pages.
#[derive(Debug, Clone)]
pub struct Shop {
    books: Vec<Book>,
}

/// The categories, by slug.
pub const CATEGORIES: [&str; 3] = ["travel", "mystery", "poetry"];

impl Default for Shop {
    fn default() -> Self {
        Self::new(23)
    }
}

impl Shop {
    /// A shop of `books` books, spread over the categories in turn.
    pub fn new(books: usize) -> Self {
        let books = (1..=books)
            .map(|id| Book {
                id,
                title: format!("{} {}", TITLES[(id - 1) % TITLES.len()], id),
                category: CATEGORIES[(id - 1) % CATEGORIES.len()],
                price: (id % 7 != 0).then(|| 10.0 + ((id * 37) % 4000) as f64 / 100.0),
            })
            .collect();
        Self { books }
    }

    /// Every book.
    pub fn books(&self) -> &[Book] {
        &self.books
    }

    /// The books of a category, in list order.
    pub fn category(&self, slug: &str) -> Vec<&Book> {
        self.books.iter().filter(|b| b.category == slug).collect()
    }

    /// Starts a server for the shop on 127.0.0.1:0.
    pub fn serve(self) -> TestServer {
        TestServer::start(move |req| self.respond(req))
    }

    /// The shop's answer to a request.
    pub fn respond(&self, req: &Request) -> Response {
        let path = req.path();
        let page = query(req, "page")
            .and_then(|p| p.parse::<usize>().ok())
            .unwrap_or(1)
            .max(1);
        if path == "/" || path == "/index.html" {
            return self.list(None, 1, "catalogue/");
        }
        if path == "/robots.txt" {
            return Response::status(200).body("User-agent: *\nAllow: /\n");
        }
        if let Some(n) = path
            .strip_prefix("/catalogue/page-")
            .and_then(|rest| rest.strip_suffix(".html"))
            .and_then(|n| n.parse::<usize>().ok())
        {
            return self.list(None, n, "");
        }
        if let Some(rest) = path.strip_prefix("/catalogue/category/") {
            let Some((slug, file)) = rest.split_once('/') else {
                return Response::not_found();
            };
            let page = match file {
                "index.html" => 1,
                file => match file
                    .strip_prefix("page-")
                    .and_then(|f| f.strip_suffix(".html"))
                    .and_then(|n| n.parse().ok())
                {
                    Some(n) => n,
                    None => return Response::not_found(),
                },
            };
            return self.list(Some(slug), page, "");
        }
        if let Some(id) = path
            .strip_prefix("/catalogue/")
            .and_then(|rest| rest.strip_suffix("/index.html"))
            .and_then(|id| id.parse::<usize>().ok())
        {
            return self.book(id);
        }
        match path {
            "/login" if req.method == "POST" => login(req),
            "/login" => Response::html(format!(
                r#"<h1>Log in</h1><form method="post" action="/login">
                <input type="hidden" name="csrf_token" value="{CSRF}">
                <input name="username"><input name="password" type="password">
                <input type="submit" value="Login"></form>"#
            )),
            "/account" if logged_in(req) => {
                let links: String = (1..=MEMBER_PAGES)
                    .map(|n| format!(r#"<li><a href="/members/{n}">Member page {n}</a></li>"#))
                    .collect();
                Response::html(format!("<h1>Your account</h1><ul>{links}</ul>"))
            }
            "/account" => Response::redirect(302, "/login"),
            "/api/books" => self.api(page),
            _ => match path
                .strip_prefix("/members/")
                .and_then(|n| n.parse::<usize>().ok())
            {
                Some(n) if (1..=MEMBER_PAGES).contains(&n) && logged_in(req) => {
                    Response::html(format!("<h1>Member page {n}</h1><p>Only for members.</p>"))
                }
                Some(_) => Response::status(403).body("members only"),
                None => Response::not_found(),
            },
        }
    }

    /// A list page: every book (`slug` `None`) or a category's, with the categories
    /// aside. Links are relative as on the real sites; `prefix` is what the home page puts
    /// before the `catalogue/` pages' own links.
    fn list(&self, slug: Option<&str>, page: usize, prefix: &str) -> Response {
        let books: Vec<&Book> = match slug {
            Some(slug) => self.category(slug),
            None => self.books.iter().collect(),
        };
        let start = (page.max(1) - 1) * PAGE_SIZE;
        if start >= books.len() {
            return Response::not_found();
        }
        // From `/` links go to `catalogue/...`; from `/catalogue/page-2.html` to `...`;
        // from a category page to `../../...`.
        let up = if slug.is_some() { "../../" } else { prefix };
        let mut html = String::from(
            "<html><head><title>Shop</title></head><body><div class=\"side_categories\"><ul><li><a href=\"/\">Books</a><ul>",
        );
        for category in CATEGORIES {
            let _ = write!(
                html,
                r#"<li><a href="{up}category/{category}/index.html">{category}</a></li>"#
            );
        }
        html.push_str("</ul></li></ul></div><ol class=\"row\">");
        for book in books.iter().skip(start).take(PAGE_SIZE) {
            let _ = write!(
                html,
                r#"<li><article class="product_pod"><h3><a href="{up}{id}/index.html" title="{title}">{title}</a></h3></article></li>"#,
                id = book.id,
                title = book.title
            );
        }
        html.push_str("</ol><ul class=\"pager\">");
        let page_link = |n: usize| match slug {
            Some(_) if n == 1 => "index.html".to_owned(),
            _ => format!("{prefix}page-{n}.html"),
        };
        if page > 1 {
            let _ = write!(
                html,
                r#"<li class="previous"><a href="{}">previous</a></li>"#,
                page_link(page - 1)
            );
        }
        if start + PAGE_SIZE < books.len() {
            let _ = write!(
                html,
                r#"<li class="next"><a href="{}">next</a></li>"#,
                page_link(page + 1)
            );
        }
        html.push_str(r#"</ul><a href="/login">Log in</a></body></html>"#);
        Response::html(html)
    }

    fn book(&self, id: usize) -> Response {
        let Some(book) = self.books.iter().find(|b| b.id == id) else {
            return Response::not_found();
        };
        let price = match book.price {
            Some(price) => format!(r#"<p class="price_color">£{price:.2}</p>"#),
            None => r#"<p class="price_on_request">Price on request</p>"#.to_owned(),
        };
        Response::html(format!(
            r#"<html><head><title>{title}</title></head><body><ul class="breadcrumb"><li><a href="../../index.html">Home</a></li><li><a href="../category/{cat}/index.html">{cat}</a></li></ul>
            <article class="product_page"><div class="product_main"><h1>{title}</h1>{price}<p class="instock availability">In stock</p></div></article></body></html>"#,
            cat = book.category,
            title = book.title,
        ))
    }

    fn api(&self, page: usize) -> Response {
        let start = (page - 1) * PAGE_SIZE;
        let books: Vec<String> = self
            .books
            .iter()
            .skip(start)
            .take(PAGE_SIZE)
            .map(|b| {
                let price = b.price.map_or("null".to_owned(), |p| format!("{p:.2}"));
                format!(
                    r#"{{"id":{},"title":"{}","price":{price}}}"#,
                    b.id,
                    b.title.replace('"', "\\\"")
                )
            })
            .collect();
        let next = if start + PAGE_SIZE < self.books.len() {
            format!(r#""/api/books?page={}""#, page + 1)
        } else {
            "null".to_owned()
        };
        Response::status(200)
            .header("Content-Type", "application/json")
            .body(format!(
                r#"{{"page":{page},"books":[{}],"next":{next}}}"#,
                books.join(",")
            ))
    }
}

/// A query parameter of the request.
fn query<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    let query = req.target.split_once('?')?.1;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Whether the request carries the session cookie.
fn logged_in(req: &Request) -> bool {
    req.header("cookie").is_some_and(|cookies| {
        cookies
            .split(';')
            .any(|c| c.trim() == format!("session={SESSION}"))
    })
}

/// The login form's POST: the right fields set the session cookie.
fn login(req: &Request) -> Response {
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(&req.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let form = req
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if form
        && field("username") == Some(CREDENTIALS.0)
        && field("password") == Some(CREDENTIALS.1)
        && field("csrf_token") == Some(CSRF)
    {
        Response::redirect(303, "/account").header(
            "Set-Cookie",
            &format!("session={SESSION}; Path=/; HttpOnly"),
        )
    } else {
        Response::status(401).body("wrong user, password or token")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> Request {
        Request {
            method: "GET".into(),
            target: path.into(),
            headers: vec![("host".into(), "shop.test".into())],
            body: bytes::Bytes::new(),
        }
    }

    #[test]
    fn lists_paginate_and_books_have_prices() {
        let shop = Shop::default();
        assert_eq!(shop.books().len(), 23);
        assert_eq!(shop.category("travel").len(), 8);
        let list = shop.respond(&get("/catalogue/category/travel/page-2.html"));
        let html = String::from_utf8(list.body.to_vec()).unwrap();
        assert_eq!(html.matches("<article").count(), 3);
        assert!(!html.contains("class=\"next\""));
        assert!(html.contains("href=\"../../16/index.html\""));
        assert!(html.contains("href=\"index.html\">previous"));
        let home = String::from_utf8(shop.respond(&get("/")).body.to_vec()).unwrap();
        assert!(home.contains("href=\"catalogue/page-2.html\">next"));
        assert!(home.contains("href=\"catalogue/1/index.html\""));
        let book =
            String::from_utf8(shop.respond(&get("/catalogue/7/index.html")).body.to_vec()).unwrap();
        assert!(book.contains("Price on request"));
        assert_eq!(
            shop.respond(&get("/catalogue/category/travel/page-9.html"))
                .status,
            404
        );
    }

    #[test]
    fn login_and_members() {
        let shop = Shop::default();
        assert_eq!(shop.respond(&get("/members/1")).status, 403);
        let mut post = get("/login");
        post.method = "POST".into();
        post.headers.push((
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
        post.body =
            bytes::Bytes::from(format!("username=reader&password=secret&csrf_token={CSRF}"));
        let answer = shop.respond(&post);
        assert_eq!(answer.status, 303);
        let mut member = get("/members/2");
        member
            .headers
            .push(("cookie".into(), format!("a=b; session={SESSION}")));
        assert_eq!(shop.respond(&member).status, 200);
    }

    #[test]
    fn the_api_pages_to_the_end() {
        let shop = Shop::default();
        let last =
            String::from_utf8(shop.respond(&get("/api/books?page=5")).body.to_vec()).unwrap();
        assert!(last.ends_with(r#""next":null}"#), "{last}");
        assert_eq!(last.matches("\"id\"").count(), 3);
    }
}
