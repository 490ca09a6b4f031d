//! A second web origin on loopback, standing in for a vendor portal: it serves one page.

use std::sync::{Arc, OnceLock};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub struct Portal {
    /// `http://127.0.0.1:PORT`: the portal's origin (and page URL).
    pub origin: String,
    page: Arc<OnceLock<String>>,
}

impl Portal {
    /// Listens at once; serves the page set by [`Portal::serve`] to every request.
    pub async fn bind() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let origin = format!("http://{}", listener.local_addr()?);
        let page = Arc::new(OnceLock::<String>::new());
        let served = page.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let body = served.get().cloned().unwrap_or_default();
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let _ = stream.read(&mut request).await;
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                });
            }
        });
        Ok(Self { origin, page })
    }

    pub fn serve(&self, html: String) {
        let _ = self.page.set(html);
    }
}
