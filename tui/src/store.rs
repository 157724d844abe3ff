//! The real [`Admin`](crate::admin::Admin): a thin adapter over the core's store.

use jwtauth_core::Config;

use crate::admin::{AdminError, Connect};

/// Opens the store named by `config.store.url` (retried by the store thread).
pub fn connect(config: Config) -> Connect {
    let _ = config;
    Box::new(|| {
        Err(AdminError(
            "key and session administration needs the store, not in this build".into(),
        ))
    })
}
