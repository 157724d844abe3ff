//! A small OpenID issuer on loopback for the trusted-issuer tests: it serves a
//! discovery document and a key set, signs tokens with its own keys, counts the
//! requests, and can be told to misbehave.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jwtauth_core::{Algorithm, Key};
use serde_json::{Value, json};

/// How the issuer answers key-set requests.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    Normal,
    /// 503 to everything.
    Down,
    /// Waits this long before answering the key set.
    Slow(Duration),
    /// The key set is this body instead.
    Body(String),
    /// Redirects the key set to this URL.
    Redirect(String),
    /// The discovery document names another issuer.
    WrongIssuer,
}

pub struct FixtureIssuer {
    pub url: String,
    pub keys: Mutex<Vec<Key>>,
    pub mode: Mutex<Mode>,
    pub jwks_requests: AtomicUsize,
    pub discovery_requests: AtomicUsize,
}

impl FixtureIssuer {
    /// Starts one on 127.0.0.1:0 with a key of `alg`.
    pub fn start(alg: Algorithm) -> Arc<FixtureIssuer> {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let issuer = Arc::new(FixtureIssuer {
            url,
            keys: Mutex::new(vec![Key::generate(alg, 0).unwrap()]),
            mode: Mutex::new(Mode::Normal),
            jwks_requests: AtomicUsize::new(0),
            discovery_requests: AtomicUsize::new(0),
        });
        let weak = Arc::downgrade(&issuer);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Some(issuer) = weak.upgrade() else { return };
                let Ok(stream) = stream else { continue };
                std::thread::spawn(move || issuer.answer(stream));
            }
        });
        issuer
    }

    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.url)
    }

    /// The `[[trusted_issuers]]` entry for it, with extra lines.
    pub fn entry(&self, audience: &str, extra: &str) -> String {
        format!(
            "[[trusted_issuers]]\nissuer = \"{}\"\naudience = \"{audience}\"\ndiscovery_url = \"{}\"\n{extra}\n",
            self.url,
            self.discovery_url()
        )
    }

    /// Replaces its key by a fresh one (rotation); the new kid.
    pub fn rotate(&self, alg: Algorithm) -> String {
        let key = Key::generate(alg, 0).unwrap();
        let kid = key.kid().to_string();
        self.keys.lock().unwrap().push(key);
        kid
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// A token signed by its newest key, with these claims over the defaults.
    pub fn token(&self, audience: &str, now: i64, claims: Value) -> String {
        let keys = self.keys.lock().unwrap();
        let key = keys.last().unwrap();
        let mut c = json!({ "iss": self.url, "aud": audience, "sub": "ext-user", "iat": now, "exp": now + 600 });
        for (k, v) in claims.as_object().unwrap() {
            c[k] = v.clone();
        }
        super::craft(key, &super::header_for(key), &c)
    }

    fn jwks(&self) -> String {
        let keys: Vec<Value> = self.keys.lock().unwrap().iter().filter_map(Key::public_jwk).collect();
        json!({ "keys": keys }).to_string()
    }

    fn answer(&self, mut stream: TcpStream) {
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let request = String::from_utf8_lossy(&buf);
        let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
        let mode = self.mode.lock().unwrap().clone();
        let (status, extra, body) = if mode == Mode::Down {
            ("503 Service Unavailable", String::new(), "down".to_string())
        } else if path == "/.well-known/openid-configuration" {
            self.discovery_requests.fetch_add(1, Ordering::SeqCst);
            let issuer = if mode == Mode::WrongIssuer {
                format!("{}/other", self.url)
            } else {
                self.url.clone()
            };
            let doc = json!({ "issuer": issuer, "jwks_uri": format!("{}/jwks.json", self.url) });
            ("200 OK", String::new(), doc.to_string())
        } else if path == "/jwks.json" {
            self.jwks_requests.fetch_add(1, Ordering::SeqCst);
            match mode {
                Mode::Slow(d) => {
                    std::thread::sleep(d);
                    ("200 OK", String::new(), self.jwks())
                }
                Mode::Body(b) => ("200 OK", String::new(), b),
                Mode::Redirect(to) => ("302 Found", format!("Location: {to}\r\n"), String::new()),
                _ => ("200 OK", String::new(), self.jwks()),
            }
        } else {
            ("404 Not Found", String::new(), String::new())
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(body.as_bytes());
    }
}

/// Waits (bounded) until `done` holds; false if it never did.
pub fn eventually(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..200 {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}
