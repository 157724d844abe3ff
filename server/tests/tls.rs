//! HTTPS with rustls: a self-signed certificate made here, HSTS, reload without restart.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

fn self_signed() -> (String, String, Vec<u8>) {
    let c = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    (c.cert.pem(), c.signing_key.serialize_pem(), c.cert.der().to_vec())
}

#[tokio::test]
async fn https_serves_with_hsts_and_picks_up_a_new_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert_pem, key_pem, der1) = self_signed();
    let (cert2_pem, key2_pem, der2) = self_signed();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, &cert_pem).unwrap();
    std::fs::write(&key, &key_pem).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([
            reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap(),
            reqwest::Certificate::from_pem(cert2_pem.as_bytes()).unwrap(),
        ])
        .tls_info(true)
        .build()
        .unwrap();
    let s = common::start_with(
        "",
        &format!("tls_cert = \"{}\"\ntls_key = \"{}\"", cert.display(), key.display()),
        client,
    )
    .await;
    assert!(s.base.starts_with("https://"));
    let peer = |r: &reqwest::Response| {
        r.extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|i| i.peer_certificate().map(<[u8]>::to_vec))
            .unwrap()
    };
    let r = s.get("/healthz", None).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );
    assert_eq!(peer(&r), der1);
    let (status, _, _) = common::error_of(s.get("/api/products", None).await).await;
    assert_eq!(status, 401);

    // Renewal: new files in place; the running server switches without a restart.
    std::thread::sleep(Duration::from_millis(1100)); // a distinct mtime on coarse filesystems
    std::fs::write(&key, &key2_pem).unwrap();
    std::fs::write(&cert, &cert2_pem).unwrap();
    let mut switched = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        // A fresh connection per probe: the certificate is chosen at the handshake.
        let fresh = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(cert2_pem.as_bytes()).unwrap()])
            .tls_info(true)
            .build()
            .unwrap();
        if let Ok(r) = fresh.get(s.url("/healthz")).send().await {
            assert_eq!(peer(&r), der2);
            switched = true;
            break;
        }
    }
    assert!(switched, "the new certificate was never served");
}
