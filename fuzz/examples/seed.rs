//! Writes the seed corpora under `fuzz/corpus/<target>/`: real tokens issued by the
//! fuzz runtimes (fixed keys, fixed clock), the core's hostile-token catalogue and
//! header cases, sample configurations and failure-log lines.
//!
//! Run from `fuzz/`: `cargo run --example seed` (any profile; see fuzz/README.md).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use jwtauth_fuzz::{AUDIENCE, ISSUER, NOW, b64, es256, hs256, hs256_sign};
use serde_json::{Map, Value, json};

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn fill(text: &str, kid: &str) -> String {
    text.replace("$KID0", kid)
        .replace("$KID1", kid)
        .replace("$ATTACKER_KID", "attacker")
        .replace("$ISS", ISSUER)
        .replace("$AUD", AUDIENCE)
        .replace("$EXP", &(NOW + 900).to_string())
        .replace("$NOW", &NOW.to_string())
}

fn fill_value(v: &Value, kid: &str) -> Value {
    serde_json::from_str(&fill(&v.to_string(), kid)).unwrap()
}

fn valid_claims() -> Map<String, Value> {
    let v = json!({
        "iss": ISSUER, "sub": "alice", "aud": AUDIENCE, "iat": NOW, "nbf": NOW,
        "exp": NOW + 900, "jti": "seed-jti", "roles": ["Reader"],
    });
    v.as_object().unwrap().clone()
}

fn main() {
    let root = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "corpus".into()));
    let vh = root.join("validate_header");
    let vs = root.join("validate_signed");
    let ins = root.join("inspect");
    let cfg = root.join("config_toml");
    let fl = root.join("failure_line");
    let capi = root.join("c_api");
    let basic = root.join("oauth_basic");

    // Real tokens from both runtimes, bare and in headers.
    let mut tokens = Vec::new();
    for (name, auth) in [("hs256", hs256()), ("es256", es256())] {
        let mut extra = Map::new();
        extra.insert("tenant".into(), json!({"id": 7, "tags": ["a", "b"]}));
        for (i, (sub, roles, extra)) in [("alice", vec!["Admin"], Map::new()), ("bob", vec![], extra)]
            .into_iter()
            .enumerate()
        {
            let issued = auth.issuer().issue(sub, &roles, &extra).expect("issue");
            assert!(
                auth.verifier().validate(&issued.token).is_ok(),
                "seed token must validate"
            );
            let t = issued.token;
            write(&vh, &format!("{name}-{i}-bare"), &t);
            write(&vh, &format!("{name}-{i}-bearer"), format!("Bearer {t}"));
            write(&vh, &format!("{name}-{i}-bearer-lower-tab"), format!("bearer\t{t}  "));
            write(&ins, &format!("{name}-{i}-bare"), &t);
            write(&ins, &format!("{name}-{i}-quoted-bearer"), format!("Bearer \"{t}\"\n"));
            tokens.push(t);
        }
    }
    // A real token's header and claims, split for the structured targets.
    for (i, t) in tokens.iter().enumerate() {
        let parts: Vec<&str> = t.split('.').collect();
        let dec = |p: &str| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).unwrap()
        };
        let mut s = dec(parts[0]);
        s.push(b'\n');
        s.extend(dec(parts[1]));
        write(&vs, &format!("issued-{i}"), &s);
        write(&ins, &format!("issued-split-{i}"), &s);
    }

    // The Authorization-header catalogue of the core's tests.
    let cases: Value = serde_json::from_str(
        &std::fs::read_to_string("../core/tests/data/authorization_headers.json").expect("header cases"),
    )
    .unwrap();
    for (i, c) in cases.as_array().unwrap().iter().enumerate() {
        if let Some(h) = c["header"].as_str() {
            write(&vh, &format!("header-case-{i}"), h.replace("$TOKEN", &tokens[0]));
        }
    }

    // The hostile-token catalogue: literal tokens as they are; recipes as header and
    // claims (for validate_signed / inspect) and HS256-signed (for validate_header).
    let hs_kid = hs256()
        .verifier()
        .key_ring()
        .active()
        .unwrap()
        .kid()
        .as_str()
        .to_string();
    let mut files: Vec<_> = std::fs::read_dir("../core/tests/data/hostile")
        .expect("hostile catalogue")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    for p in files {
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        let spec: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        if let Some(t) = spec["token"].as_str() {
            let t = fill(t, &hs_kid);
            write(&vh, &format!("hostile-{name}"), format!("Bearer {t}"));
            write(&vh, &format!("hostile-raw-{name}"), &t);
            write(&ins, &format!("hostile-{name}"), &t);
            continue;
        }
        if spec.get("token_hex").is_some() || spec.get("token_repeat").is_some() {
            continue;
        }
        let header = if let Some(h) = spec["header_text"].as_str() {
            fill(h, &hs_kid)
        } else if spec["header"].is_object() {
            fill_value(&spec["header"], &hs_kid).to_string()
        } else {
            json!({"alg": "HS256", "typ": "JWT", "kid": hs_kid}).to_string()
        };
        let claims = if let Some(c) = spec["claims_text"].as_str() {
            fill(c, &hs_kid)
        } else {
            let mut m = valid_claims();
            if let Some(patch) = spec["claims_patch"].as_object() {
                for (k, v) in patch {
                    if v.is_null() {
                        m.remove(k);
                    } else {
                        m.insert(k.clone(), fill_value(v, &hs_kid));
                    }
                }
            }
            Value::Object(m).to_string()
        };
        let split = format!("{header}\n{claims}");
        write(&vs, &format!("hostile-{name}"), &split);
        write(&ins, &format!("hostile-split-{name}"), &split);
        write(
            &vh,
            &format!("hostile-{name}"),
            format!("Bearer {}", hs256_sign(header.as_bytes(), claims.as_bytes())),
        );
    }
    write(
        &ins,
        "long-lived-foreign",
        format!(
            "{}.{}.{}",
            b64(r#"{"alg":"none","kid":"x"}"#),
            b64(r#"{"exp":99999999999,"iat":0,"iss":"other","role":"A"}"#),
            b64("s")
        ),
    );

    // Configurations.
    let configs = [
        ("empty", String::new()),
        ("minimal", "issuer = \"https://auth.example.com\"\n".to_string()),
        (
            "full",
            format!(
                r#"issuer = "{ISSUER}"
audience = ["{AUDIENCE}", "other-api"]
access_ttl = "15m"
max_access_ttl = "24h"
refresh_idle_ttl = "14d"
refresh_max_ttl = "30d"
refresh_reuse_grace = "5s"
leeway = 30
algorithm = "HS256"
hs_secret = "q8Xk2mZr7VtL0pWn4YbC9sHd3JfG6uEa1"
roles_claim = "role"
max_token_size = 8192
validation_cache = 4096
revocation_staleness = "5s"
key_reload_interval = "1h 30m"

[store]
url = "postgres://u:pw@db:5432/jwt?options=-c%20search_path%3Djt"
pool_size = 8

[log]
dir = "logs"
retention_days = 14
file_prefix = "failures"

[server]
listen = "127.0.0.1:8080"
behind_tls_proxy = false
trusted_proxies = ["127.0.0.1", "10.0.0.0/8", "fd00::/8"]

[login]
user_burst = 5
user_period = "12s"
client_burst = 20
client_period = "3s"
client_attempt_burst = 100
client_attempt_period = "100ms"
max_tracked = 100000
"#
            ),
        ),
        (
            "es256-tls",
            "algorithm = \"ES256\"\nkey_file = \"key.pem\"\nmaster_key_file = \"mk\"\n[server]\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\nlisten = \"[::1]:8443\"\n[store]\nurl = \"sqlite://x.db\"\n".to_string(),
        ),
        ("bad-leeway", "leeway = \"10m\"\n".to_string()),
        ("bad-dur", "access_ttl = \"fortnight\"\n".to_string()),
        ("one-proxy", "[server]\ntrusted_proxies = \"::1\"\n".to_string()),
        ("inline-tables", "store = { url = \"sqlite://a.db\", pool_size = 2 }\nlog = { dir = \"/tmp/l\" }\n".to_string()),
        (
            "recent-sections",
            r#"key_publish_ahead = "10m"
claims_profile = "aspnet"
[oauth]
password_grant = true
[server]
header_read_timeout = "10s"
max_connections = 1024
public_url = "https://auth.example.com"
cors_allowed_origins = ["https://app.example.com"]
cors_allow_credentials = true
[log]
max_repeats_per_minute = 10
max_bytes_per_day = 104857600
[refresh_limits]
family_burst = 30
family_period = "2s"
client_burst = 600
client_period = "20ms"
max_tracked = 100000
[[trusted_issuers]]
issuer = "https://login.example.com"
audience = "products-api"
discovery_url = "https://login.example.com/.well-known/openid-configuration"
algorithms = ["RS256", "ES256"]
leeway = "30s"
max_token_age = "1h"
last_known_good = "24h"
refetch_cooldown = "30s"
fetch_timeout = "5s"
[[trusted_issuers]]
issuer = "http://127.0.0.1:9000"
audience = ["a", "b"]
jwks_url = "http://127.0.0.1:9000/jwks"
allow_http = true
claims_profile = "jwtauth"
roles_claim = "groups"
"#
            .to_string(),
        ),
        ("json-object", format!(r#"{{"issuer":"{ISSUER}","algorithm":"HS256","hs_secret":"q8Xk2mZr7VtL0pWn4YbC9sHd3JfG6uEa1","server":{{"max_connections":10}}}}"#)),
    ];
    for (name, text) in configs {
        write(&cfg, name, text);
    }

    // The C API: a selector byte, then fields separated by newlines (fuzz_targets/c_api.rs).
    let op = |n: u8, body: &[u8]| [&[n][..], body].concat();
    for (i, t) in tokens.iter().enumerate() {
        write(&capi, &format!("validate-{i}"), op(0, t.as_bytes()));
        write(
            &capi,
            &format!("header-{i}"),
            op(2, format!("Bearer {t}\n203.0.113.7:5000\nGET\n/api/products\ncurl/8.5\nr-{i}").as_bytes()),
        );
    }
    let long_lived = json!({
        "iss": ISSUER, "sub": "alice", "aud": AUDIENCE, "iat": NOW, "nbf": NOW,
        "exp": NOW + 10 * 365 * 86_400, "jti": "seed-c", "roles": ["Admin", "Reader"],
        "tenant": "acme", "tenant_id": 42, "email_verified": true, "scopes": ["a", "b"],
    });
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": hs_kid});
    for name in ["sub", "tenant", "tenant_id", "email_verified", "scopes", "roles"] {
        write(&capi, &format!("signed-{name}"), op(1, format!("{header}\n{long_lived}\n{name}").as_bytes()));
    }
    write(&capi, "header-missing", op(2, b"\xfe\n\xfe\nPOST"));
    write(&capi, "issue-extra", op(3, br#"alice
{"tenant":"acme","n":1.5,"nested":{"a":[1,2]}}
Admin
Reader"#));
    write(&capi, "issue-reserved", op(3, b"bob\n{\"exp\":1}\n"));
    write(&capi, "session", op(4, b"carol\nnot-a-refresh-token\nAdmin"));
    for (i, config) in [
        format!(r#"{{"issuer":"{ISSUER}","algorithm":"HS256","hs_secret":"q8Xk2mZr7VtL0pWn4YbC9sHd3JfG6uEa1"}}"#),
        r#"{"algorithm":"ES256","access_ttl":"5m","validation_cache":0}"#.to_string(),
        r#"{"algorithm":"EdDSA","roles_claim":"role","claims_profile":"aspnet","login":{"user_burst":3}}"#.to_string(),
        r#"{"algorithm":"HS256","hs_secret":"short"}"#.to_string(),
        r#"{"unknown_key":1}"#.to_string(),
        "not json".to_string(),
    ]
    .iter()
    .enumerate()
    {
        write(&capi, &format!("open-{i}"), op(5, config.as_bytes()));
    }
    write(&capi, "status", op(6, &[3, 0, 0, 0]));
    write(&capi, "issued-appended", op(7, b"x\ntenant"));
    write(&capi, "issued-nul", op(7, b"\0trailing\nsub"));

    // OAuth client credentials: Basic header values and form-urlencoded parts.
    {
        use base64::Engine;
        let enc = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        for (name, text) in [
            ("basic", enc("svc:jwtcs_secret")),
            ("basic-escaped", enc("svc%3Aa:s%2Be+t")),
            ("basic-utf8", enc("caf%C3%A9:p%C3%A4ss")),
            ("basic-padded-space", format!("  {}  ", enc("a:b"))),
            ("form", "a%3Ab+c%7E".to_string()),
            ("form-bad", "bad%zz%4".to_string()),
        ] {
            write(&basic, name, text);
        }
    }

    // Failure-log lines.
    let lines = [
        r#"{"time":"2026-11-28T15:04:05.123456789Z","reason":"expired","hint":"token expired 5 s ago","kid":"k1","subject":"alice","subject_verified":true,"fingerprint":"a1b2c3d4e5f6","client":"127.0.0.1:51234","method":"GET","path":"/api/products","user_agent":"curl/8.5","request_id":"r-1"}"#,
        r#"{"time":"2026-11-28T15:04:05Z","reason":"bad_signature","client":"[2001:db8::1]:443"}"#,
        r#"{"time":"2026-11-28T15:04:05+02:00","reason":"from_the_future","client":"example"}"#,
        r#"{"time":"yesterday","reason":"expired"}"#,
        r#"{"time":"2026-11-28T15:04:05Z","reas"#,
        "hello",
    ];
    for (i, l) in lines.iter().enumerate() {
        write(&fl, &format!("line-{i}"), l);
    }
    eprintln!("seeds written under {}", root.display());
}
