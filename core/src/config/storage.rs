//! The `[store]` and `[log]` sections: where state and the failure log are kept.

use std::path::PathBuf;

use super::ConfigError;
use super::raw::RawConfig;
use crate::audit::LogConfig;

/// The failure log directory when `log.dir` is not set.
const DEFAULT_LOG_DIR: &str = "logs";

/// Where state is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    pub(super) url: String,
    pub(super) pool_size: u32,
}

impl StoreConfig {
    /// `sqlite://PATH` (relative paths resolved against the config file's folder)
    /// or `postgres://…`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Connections kept open to PostgreSQL.
    pub fn pool_size(&self) -> u32 {
        self.pool_size
    }
}

pub(super) fn storage(
    raw: &RawConfig,
    resolve: &dyn Fn(PathBuf) -> PathBuf,
) -> Result<(StoreConfig, LogConfig), ConfigError> {
    let url = raw.store.url.trim().to_string();
    let url = if let Some(path) = url.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err(ConfigError::invalid(
                "store.url",
                "sqlite:// names no file",
                "Write it like \"sqlite://jwtauth.db\"",
            ));
        }
        format!("sqlite://{}", resolve(PathBuf::from(path)).display())
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        url
    } else {
        return Err(ConfigError::invalid(
            "store.url",
            format!(
                "'{}' is neither sqlite:// nor postgres://",
                crate::store::url_masked(&url)
            ),
            "Use \"sqlite://jwtauth.db\" (default) or \"postgres://user@host/db\"",
        ));
    };
    if raw.store.pool_size == 0 || raw.store.pool_size > 1024 {
        return Err(ConfigError::invalid(
            "store.pool_size",
            format!("{} is outside 1..=1024", raw.store.pool_size),
            "Use a small number such as 8",
        ));
    }
    if raw.log.retention_days == 0 {
        return Err(ConfigError::invalid(
            "log.retention_days",
            "it is 0, so no failure log would be kept",
            "Keep at least 1 day (default 14)",
        ));
    }
    let prefix = raw.log.file_prefix.trim().to_string();
    if prefix.is_empty() || prefix.contains(['/', '\\']) {
        return Err(ConfigError::invalid(
            "log.file_prefix",
            format!("'{}' is not a plain file name", crate::error::clip(&prefix)),
            "Use a plain name such as \"failures\"",
        ));
    }
    if raw.log.max_bytes_per_day < 1 << 20 {
        return Err(ConfigError::invalid(
            "log.max_bytes_per_day",
            format!("{} bytes would hold almost no failure lines", raw.log.max_bytes_per_day),
            "Allow at least 1048576 (1 MiB); the default is 1073741824 (1 GiB)",
        ));
    }
    Ok((
        StoreConfig {
            url,
            pool_size: raw.store.pool_size,
        },
        LogConfig {
            dir_configured: raw.log.dir.is_some(),
            dir: resolve(raw.log.dir.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_LOG_DIR))),
            retention_days: raw.log.retention_days,
            file_prefix: prefix,
            limits: crate::audit::FloodLimits {
                max_repeats_per_minute: raw.log.max_repeats_per_minute,
                max_bytes_per_day: raw.log.max_bytes_per_day,
            },
        },
    ))
}
