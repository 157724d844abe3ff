//! jwtauth-core: issue, validate and refresh JSON Web Tokens, keep signing keys and
//! record every authentication failure.
//!
//! The core is synchronous and has no HTTP or terminal in it; `jwtauth-server`,
//! `jwtauth-tui` and the C library `libjwtauth` are thin adapters over it.
//!
//! ```
//! use jwtauth_core::{Config, Reason, Tokens};
//!
//! let tokens = Tokens::new(Config::default())?; // ES256 key generated, no store
//! let issued = tokens.issuer().issue("alice", &["Admin"], &Default::default())?;
//! let claims = tokens.verifier().validate(&issued.token)?;
//! assert_eq!(claims.subject(), "alice");
//! assert!(claims.has_role("Admin"));
//!
//! let err = tokens.verifier().validate_header(Some(&issued.token), &Default::default()).unwrap_err();
//! assert_eq!(err.reason, Reason::BadScheme); // no "Bearer " prefix
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Which room holds what, and how a token and a refresh travel through them, is
//! written down in `core/ARCHITECTURE.md`.

pub mod audit;
pub mod clients;
pub mod clock;
pub mod config;
mod encoding;
pub mod error;
mod fold;
pub mod issuers;
pub mod keys;
pub mod keystore;
mod low_s;
pub mod random;
pub mod refresh;
mod runtime;
pub mod store;
pub mod token;
pub mod users;

pub use crate::audit::RequestInfo;
pub use crate::clients::{ClientError, ClientInfo, Clients};
pub use crate::clock::{Clock, FixedClock, SystemClock};
pub use crate::config::{Config, ConfigError};
pub use crate::error::{AuthError, Reason};
pub use crate::keys::{Algorithm, Key, KeyError, KeyRing, KeyState, Kid};
pub use crate::keystore::{KeyAdmin, KeyAdminError, KeyInfo, MasterKey};
pub use crate::refresh::{RefreshToken, SessionError, SessionInfo, Sessions, TokenPair};
pub use crate::runtime::{Error, InitError, JwtAuth, OpenOptions, Tokens};
pub use crate::store::{Store, StoreError};
pub use crate::token::{CacheStats, Claims, ClaimsProfile, IssueError, Issued, Issuer, Rules, Verdict, Verifier};
pub use crate::users::{Login, LoginError, UserError, Users};
