//! What a session keeps to issue its refreshed access tokens: the roles and extra
//! claims of the login, stored with the family as JSON and read back strictly.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::store::StoreError;

/// The claims a family carries into every refreshed access token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SessionClaims {
    pub roles: Vec<String>,
    pub extra: Map<String, Value>,
    /// The session is a password user's (a row of `jwtauth_users`): every refresh
    /// checks that the row still exists and is not disabled. Absent in rows written
    /// before this field existed, and for sessions an application starts itself.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub user: bool,
}

impl SessionClaims {
    pub(crate) fn new(roles: &[&str], extra: &Map<String, Value>) -> SessionClaims {
        SessionClaims {
            roles: roles.iter().map(|r| (*r).to_string()).collect(),
            extra: extra.clone(),
            user: false,
        }
    }

    pub(crate) fn to_json(&self) -> Result<String, StoreError> {
        serde_json::to_string(self).map_err(|e| StoreError::Data(format!("session claims cannot be written: {e}")))
    }

    /// Reads a stored row. Anything but the exact shape written is an error, never
    /// a token with fewer roles than the login had.
    pub(crate) fn from_json(text: &str) -> Result<SessionClaims, StoreError> {
        serde_json::from_str(text).map_err(|e| StoreError::Data(format!("session claims are corrupt: {e}")))
    }

    pub(crate) fn role_refs(&self) -> Vec<&str> {
        self.roles.iter().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claims_round_trip_in_the_stored_shape() {
        let extra = json!({"tenant": "acme"}).as_object().cloned().unwrap();
        let c = SessionClaims::new(&["Admin", "Ops"], &extra);
        let text = c.to_json().unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({"roles": ["Admin", "Ops"], "extra": {"tenant": "acme"}})
        );
        assert_eq!(SessionClaims::from_json(&text).unwrap(), c);
        assert_eq!(c.role_refs(), ["Admin", "Ops"]);
        let mut u = SessionClaims::new(&["Ops"], &Map::new());
        u.user = true;
        let text = u.to_json().unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({"roles": ["Ops"], "extra": {}, "user": true})
        );
        assert!(SessionClaims::from_json(&text).unwrap().user);
    }

    #[test]
    fn rows_written_before_the_typed_claims_still_read() {
        let c = SessionClaims::from_json(r#"{"roles":["Admin"],"extra":{}}"#).unwrap();
        assert_eq!(c.roles, ["Admin"]);
        assert!(c.extra.is_empty());
        assert!(!c.user, "an old row is not a password user's session");
    }

    #[test]
    fn a_corrupt_row_is_an_error_never_a_token_without_roles() {
        for bad in [
            "",
            "not json",
            "null",
            "[]",
            r#"{"extra":{}}"#,
            r#"{"roles":"Admin","extra":{}}"#,
            r#"{"roles":["Admin",7],"extra":{}}"#,
            r#"{"roles":["Admin"]}"#,
            r#"{"roles":["Admin"],"extra":[]}"#,
            r#"{"roles":["Admin"],"extra":{},"admin":true}"#,
        ] {
            let e = SessionClaims::from_json(bad).unwrap_err();
            assert!(e.to_string().contains("session claims are corrupt"), "{bad}: {e}");
        }
    }
}
