//! What presenting a refresh token leads to, decided from the family's state
//! alone: a pure function, so every case is tested without a database.

/// A family as the rotation reads it, under its row lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FamilyState {
    /// Absolute end of the family.
    pub expires_at: i64,
    /// When the current token expires unless used.
    pub idle_expires_at: i64,
    /// The generation of the current (unspent) token.
    pub generation: i64,
    /// Whether the grace retry of the previous token was already taken.
    pub grace_used: bool,
    /// Logged out, revoked everywhere, or revoked for an earlier reuse.
    pub revoked: bool,
    /// Last rotation (or the login).
    pub last_used_at: i64,
    /// The subject may still have tokens: false for a password user's session
    /// whose user was disabled or deleted, and for any session of a disabled user.
    pub subject_allowed: bool,
}

/// The verdict on a presented token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// The family was revoked: nothing is issued.
    Revoked,
    /// The subject was disabled or deleted: revoke the family, issue nothing.
    SubjectRefused,
    /// The family or its current token expired.
    Expired,
    /// A spent token came back: revoke the family.
    Reuse,
    /// Rotate: the current token, or (`in_grace`) the immediately previous one
    /// retried once within the grace window.
    Rotate {
        /// Whether this rotation spends the grace retry.
        in_grace: bool,
    },
}

/// Decides for a token of generation `presented` at `now`, with a grace window of
/// `grace` seconds (0 = off). Revocation wins over a refused subject, that over
/// expiry, and expiry over reuse.
pub(crate) fn decide(family: &FamilyState, presented: i64, now: i64, grace: i64) -> Decision {
    if family.revoked {
        return Decision::Revoked;
    }
    if !family.subject_allowed {
        return Decision::SubjectRefused;
    }
    if now >= family.expires_at || now >= family.idle_expires_at {
        return Decision::Expired;
    }
    if presented == family.generation {
        return Decision::Rotate { in_grace: false };
    }
    let in_grace = grace > 0
        && presented.checked_add(1) == Some(family.generation)
        && !family.grace_used
        && now.saturating_sub(family.last_used_at) <= grace;
    if in_grace {
        Decision::Rotate { in_grace: true }
    } else {
        Decision::Reuse
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000;

    fn family() -> FamilyState {
        FamilyState {
            expires_at: NOW + 1_000,
            idle_expires_at: NOW + 100,
            generation: 3,
            grace_used: false,
            revoked: false,
            last_used_at: NOW - 5,
            subject_allowed: true,
        }
    }

    #[test]
    fn a_disabled_or_deleted_subject_gets_nothing_whatever_the_token() {
        let refused = FamilyState {
            subject_allowed: false,
            ..family()
        };
        for presented in [3, 2, 0] {
            assert_eq!(decide(&refused, presented, NOW, 10), Decision::SubjectRefused);
        }
        let both = FamilyState {
            revoked: true,
            ..refused
        };
        assert_eq!(decide(&both, 3, NOW, 0), Decision::Revoked);
    }

    #[test]
    fn the_current_token_rotates() {
        assert_eq!(decide(&family(), 3, NOW, 0), Decision::Rotate { in_grace: false });
        assert_eq!(decide(&family(), 3, NOW, 10), Decision::Rotate { in_grace: false });
    }

    #[test]
    fn a_spent_token_is_reuse_without_grace() {
        assert_eq!(decide(&family(), 2, NOW, 0), Decision::Reuse);
        assert_eq!(decide(&family(), 0, NOW, 0), Decision::Reuse);
    }

    #[test]
    fn only_the_previous_token_is_retried_once_within_the_grace_window() {
        assert_eq!(decide(&family(), 2, NOW, 10), Decision::Rotate { in_grace: true });
        // Older than the previous one: reuse, grace or not.
        assert_eq!(decide(&family(), 1, NOW, 10), Decision::Reuse);
        // Outside the window (last rotation 5 s ago, window 4 s).
        assert_eq!(decide(&family(), 2, NOW, 4), Decision::Reuse);
        // The retry was already taken.
        let used = FamilyState {
            grace_used: true,
            ..family()
        };
        assert_eq!(decide(&used, 2, NOW, 10), Decision::Reuse);
    }

    #[test]
    fn a_token_from_a_later_generation_is_never_accepted() {
        // Cannot happen with the stored tokens, and must fail closed if it does.
        assert_eq!(decide(&family(), 4, NOW, 10), Decision::Reuse);
        assert_eq!(decide(&family(), i64::MAX, NOW, 10), Decision::Reuse);
    }

    #[test]
    fn revocation_wins_over_expiry_and_expiry_over_reuse() {
        let revoked = FamilyState {
            revoked: true,
            idle_expires_at: NOW - 1,
            ..family()
        };
        assert_eq!(decide(&revoked, 3, NOW, 0), Decision::Revoked);
        assert_eq!(decide(&revoked, 1, NOW, 0), Decision::Revoked);
        let idle = FamilyState {
            idle_expires_at: NOW,
            ..family()
        };
        assert_eq!(decide(&idle, 3, NOW, 0), Decision::Expired);
        assert_eq!(decide(&idle, 1, NOW, 0), Decision::Expired);
        let ended = FamilyState {
            expires_at: NOW,
            ..family()
        };
        assert_eq!(decide(&ended, 3, NOW, 0), Decision::Expired);
        assert_eq!(decide(&family(), 3, NOW + 99, 0), Decision::Rotate { in_grace: false });
        assert_eq!(decide(&family(), 3, NOW + 100, 0), Decision::Expired);
    }
}
