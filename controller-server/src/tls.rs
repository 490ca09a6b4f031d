//! TLS for the site: the operator's certificate, or a self-signed one made on first start.

use std::path::Path;

use anyhow::Context;
use axum_server::tls_rustls::RustlsConfig;
use rustls::pki_types::pem::PemObject;
use rustls::ServerConfig;

use crate::config::Config;

/// Builds the rustls configuration: TLS 1.2 and 1.3 only, HTTP/1.1 (WebSocket upgrades need it).
pub async fn rustls_config(config: &Config) -> anyhow::Result<RustlsConfig> {
    let (cert_path, key_path) = match (&config.tls_cert, &config.tls_key) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        _ => {
            let cert = config.data_dir.join("tls-cert.pem");
            let key = config.data_dir.join("tls-key.pem");
            if !cert.exists() || !key.exists() {
                generate_self_signed(&cert, &key, config)?;
                tracing::info!(path = %cert.display(), "generated a self-signed certificate");
            }
            (cert, key)
        }
    };
    let certs = rustls_pemfile_certs(&cert_path)?;
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(&key_path)
        .with_context(|| format!("cannot read private key {}", key_path.display()))?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut server = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("certificate and key do not match")?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(RustlsConfig::from_config(std::sync::Arc::new(server)))
}

/// rustls for a client of `what` (a directory, a peer): the CA file, else the system's trust
/// anchors.
pub fn client_config(what: &str, ca_file: Option<&Path>) -> anyhow::Result<rustls::ClientConfig> {
    client_config_as(what, ca_file, None)
}

/// As [`client_config`], presenting the certificate and key in `identity` (PEM files) to a
/// server that asks for one.
pub fn client_config_as(
    what: &str,
    ca_file: Option<&Path>,
    identity: Option<(&Path, &Path)>,
) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            for cert in rustls::pki_types::CertificateDer::pem_file_iter(path)
                .map_err(|e| anyhow::anyhow!("{what}: cannot read ca_file {}: {e}", path.display()))?
            {
                let cert = cert.map_err(|e| anyhow::anyhow!("{what}: ca_file {}: {e}", path.display()))?;
                roots.add(cert).map_err(|e| anyhow::anyhow!("{what}: ca_file {}: {e}", path.display()))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    anyhow::ensure!(!roots.is_empty(), "{what}: no trust anchors for its certificate (set ca_file)");
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_root_certificates(roots);
    let Some((cert, key)) = identity else { return Ok(builder.with_no_client_auth()) };
    let certs = rustls_pemfile_certs(cert).with_context(|| format!("{what}: cert_file"))?;
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(key)
        .map_err(|e| anyhow::anyhow!("{what}: cannot read key_file {}: {e}", key.display()))?;
    builder.with_client_auth_cert(certs, key).with_context(|| format!("{what}: cert_file and key_file do not match"))
}

/// An HTTPS client for `what` that trusts `ca_file` (else the system), with deadlines, that
/// follows no redirect (a caller that allows them checks each hop) and uses no proxy (the
/// controller's peers and image servers are reached directly: a proxy in the environment, for
/// package downloads say, is not on the path to them).
pub fn https_client(
    what: &str,
    ca_file: Option<&Path>,
    connect: std::time::Duration,
    total: std::time::Duration,
) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .use_preconfigured_tls(client_config(what, ca_file)?)
        .connect_timeout(connect)
        .timeout(total)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()?)
}

fn rustls_pemfile_certs(path: &Path) -> anyhow::Result<Vec<rustls::pki_types::CertificateDer<'static>>> {
    let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
        .with_context(|| format!("cannot read certificate {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("invalid certificate {}", path.display()))?;
    anyhow::ensure!(!certs.is_empty(), "no certificate in {}", path.display());
    Ok(certs)
}

fn generate_self_signed(cert_path: &Path, key_path: &Path, config: &Config) -> anyhow::Result<()> {
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let ip = config.listen.ip();
    if !ip.is_unspecified() && !names.contains(&ip.to_string()) {
        names.push(ip.to_string());
    }
    if let Some(host) = config.relay.as_ref().and_then(|r| r.host.clone()) {
        names.push(host);
    }
    let certified = rcgen::generate_simple_self_signed(names).context("cannot generate a certificate")?;
    std::fs::create_dir_all(config.data_dir.as_path())?;
    std::fs::write(cert_path, certified.cert.pem())?;
    write_private(key_path, certified.signing_key.serialize_pem().as_bytes())?;
    Ok(())
}

/// Writes a secret file readable by the owner only.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(path)?.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(dir: &Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        let certified = rcgen::generate_simple_self_signed(vec!["lantern.test".to_string()]).unwrap();
        let (cert, key) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}-key.pem")));
        std::fs::write(&cert, certified.cert.pem()).unwrap();
        std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
        (cert, key)
    }

    #[tokio::test]
    async fn the_operators_certificate_is_used_and_a_mismatched_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair(dir.path(), "mine");
        let (_, other_key) = pair(dir.path(), "other");
        let mut config = Config {
            data_dir: dir.path().join("data"),
            tls_cert: Some(cert.clone()),
            tls_key: Some(key),
            ..Config::default()
        };
        rustls_config(&config).await.unwrap();
        assert!(!config.data_dir.join("tls-cert.pem").exists(), "no certificate is generated when one is configured");
        config.tls_key = Some(other_key);
        let err = rustls_config(&config).await.unwrap_err();
        assert!(err.to_string().contains("do not match"), "{err}");
    }

    #[tokio::test]
    async fn a_self_signed_certificate_is_made_once_with_a_private_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
        rustls_config(&config).await.unwrap();
        let cert = std::fs::read(dir.path().join("tls-cert.pem")).unwrap();
        rustls_config(&config).await.unwrap();
        assert_eq!(std::fs::read(dir.path().join("tls-cert.pem")).unwrap(), cert, "kept across restarts");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("tls-key.pem")).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the key is readable by its owner only");
        }
    }
}
