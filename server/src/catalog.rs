//! `GET /api/products` without a store round trip per request: the list is read from
//! the store, rendered to JSON once, and served from memory for [`Catalog::MAX_AGE`].
//!
//! A change made through this process is visible to the next request. A change made by
//! another process sharing the store (a second server on the same PostgreSQL) shows up
//! within `MAX_AGE`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use axum::body::Bytes;
use jwtauth_core::JwtAuth;

use crate::error::ApiError;
use crate::routes::{ProductBody, blocking};

struct Rendered {
    read_at: Instant,
    generation: u64,
    body: Bytes,
}

/// The rendered products list, shared by every request.
pub struct Catalog {
    current: ArcSwapOption<Rendered>,
    /// Moves on every change made through this process; a list read before a change
    /// is never kept after it.
    generation: AtomicU64,
    /// One store read at a time; the others wait for its result.
    reading: tokio::sync::Mutex<()>,
    max_age: Duration,
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog::new(Catalog::MAX_AGE)
    }
}

impl Catalog {
    /// How long a list read from the store is served.
    pub const MAX_AGE: Duration = Duration::from_secs(1);

    /// An empty cache serving lists for `max_age`.
    pub fn new(max_age: Duration) -> Catalog {
        Catalog {
            current: ArcSwapOption::empty(),
            generation: AtomicU64::new(0),
            reading: tokio::sync::Mutex::new(()),
            max_age,
        }
    }

    fn fresh(&self) -> Option<Bytes> {
        let guard = self.current.load();
        let r = guard.as_ref()?;
        (r.generation == self.generation.load(Ordering::Acquire) && r.read_at.elapsed() < self.max_age)
            .then(|| r.body.clone())
    }

    /// Forgets the list: call after every change to the products.
    pub fn changed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.current.store(None);
    }

    /// The products list as a JSON array.
    pub async fn body(&self, auth: &Arc<JwtAuth>) -> Result<Bytes, ApiError> {
        if let Some(body) = self.fresh() {
            return Ok(body);
        }
        let _reading = self.reading.lock().await;
        // Whoever held the lock before may have just read it.
        if let Some(body) = self.fresh() {
            return Ok(body);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let read_at = Instant::now();
        let list = blocking(auth, |auth| Ok(crate::products::list(auth.store())?)).await?;
        let list: Vec<ProductBody> = list.into_iter().map(ProductBody::from).collect();
        let body = Bytes::from(serde_json::to_vec(&list).map_err(|e| ApiError::Internal(e.to_string()))?);
        // A change that landed while reading makes this list already old: serve it to
        // this request (it was true when read) but do not keep it.
        if self.generation.load(Ordering::Acquire) == generation {
            self.current.store(Some(Arc::new(Rendered {
                read_at,
                generation,
                body: body.clone(),
            })));
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::products::{self, NewProduct};
    use jwtauth_core::Config;
    use serde_json::json;

    async fn store() -> (Arc<JwtAuth>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let toml = format!(
            "[store]\nurl = \"sqlite://{}\"\n[log]\ndir = \"{}\"\n",
            dir.path().join("jwtauth.db").display(),
            dir.path().join("logs").display()
        );
        let auth = tokio::task::spawn_blocking(move || {
            let auth = JwtAuth::open(Config::from_toml(&toml).unwrap()).unwrap();
            products::migrate(auth.store()).unwrap();
            auth
        })
        .await
        .unwrap();
        (Arc::new(auth), dir)
    }

    async fn add(auth: &Arc<JwtAuth>, name: &str) {
        let p = NewProduct::from_json(json!({"name": name, "price": 1}).as_object().unwrap()).unwrap();
        let auth = auth.clone();
        tokio::task::spawn_blocking(move || products::add(auth.store(), &p, auth.now()).unwrap())
            .await
            .unwrap();
    }

    async fn names(c: &Catalog, auth: &Arc<JwtAuth>) -> Vec<String> {
        let body: Vec<serde_json::Value> = serde_json::from_slice(&c.body(auth).await.unwrap()).unwrap();
        body.iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect()
    }

    #[tokio::test]
    async fn the_list_is_read_once_and_forgotten_on_a_change() {
        let (auth, _dir) = store().await;
        let c = Catalog::new(Duration::from_secs(3600));
        assert!(names(&c, &auth).await.is_empty());
        // Written behind the catalog's back, as another process would: not seen yet.
        add(&auth, "Tea").await;
        assert!(names(&c, &auth).await.is_empty());
        c.changed();
        assert_eq!(names(&c, &auth).await, ["Tea"]);
    }

    #[tokio::test]
    async fn a_list_older_than_max_age_is_read_again() {
        let (auth, _dir) = store().await;
        let c = Catalog::new(Duration::ZERO);
        assert!(names(&c, &auth).await.is_empty());
        add(&auth, "Tea").await;
        assert_eq!(names(&c, &auth).await, ["Tea"]);
    }
}
