//! The Keys view's questions: what a rotation does and when the new key signs,
//! in the words of the core's key lifecycle (`next` → active → verify-only).

use jwtauth_core::{Algorithm, KeyState};

use super::{AdminRequest, App, Prompt};
use crate::admin::Rotation;
use crate::failure::{date_time, span};

impl App {
    /// The question before a publish-ahead rotation to `alg` (`None`: the
    /// configured algorithm): when the new key signs, and what it replaces.
    pub(super) fn confirm_rotation(&self, alg: Option<Algorithm>) -> Prompt {
        let new = alg.map_or_else(|| "configured algorithm".to_owned(), |a| a.to_string());
        let then = match self.keys.items.iter().find(|k| k.state == KeyState::Active) {
            Some(k) => format!("; then {} turns verify-only until its tokens expire", k.kid),
            None => String::new(),
        };
        let mut question = match self.publish_ahead {
            Some(0) => format!(
                "Rotate? key_publish_ahead is 0: a new {new} key signs at once{then}. Relying parties with a cached JWKS reject its tokens until they fetch it again."
            ),
            Some(ahead) => format!(
                "Rotate? A new {new} key is published in the JWKS now and starts signing at {} UTC (in {}, key_publish_ahead){then}.",
                date_time(self.now.saturating_add(ahead)),
                span(ahead)
            ),
            None => format!(
                "Rotate? A new {new} key is published in the JWKS now and starts signing after key_publish_ahead{then}."
            ),
        };
        if let Some(next) = self.keys.items.iter().find(|k| k.state == KeyState::Next) {
            question.push_str(&format!(" The pending next key {} is withdrawn.", next.kid));
        }
        Prompt::confirm(question, AdminRequest::Rotate(alg, Rotation::PublishAhead))
    }

    /// The question before an emergency rotation that signs at once.
    pub(super) fn confirm_rotation_now(&self, alg: Option<Algorithm>) -> Prompt {
        let new = alg.map_or_else(|| "configured algorithm".to_owned(), |a| a.to_string());
        let old = match self.keys.items.iter().find(|k| k.state == KeyState::Active) {
            Some(k) => format!(" and {} turns verify-only", k.kid),
            None => String::new(),
        };
        let question = format!(
            "EMERGENCY rotation: a new {new} key signs at once{old}. WARNING: relying parties with a cached JWKS reject its tokens until they fetch the JWKS again. (r publishes ahead instead.) Rotate now?"
        );
        Prompt::confirm(question, AdminRequest::Rotate(alg, Rotation::Now))
    }

    pub(super) fn active_algorithm(&self) -> Option<Algorithm> {
        self.keys
            .items
            .iter()
            .find(|k| k.state == KeyState::Active)
            .map(|k| k.algorithm)
    }
}
