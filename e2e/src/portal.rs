//! A second web origin on loopback, standing in for a vendor portal: it serves pages and, as
//! the portal's back end, answers its own API calls.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// (status, content type, body)
pub type Reply = (u16, &'static str, String);
type Handler = Arc<dyn Fn(String, String) -> Pin<Box<dyn Future<Output = Reply> + Send>> + Send + Sync>;

pub struct Portal {
    /// `http://127.0.0.1:PORT`: the portal's origin.
    pub origin: String,
    handler: Arc<OnceLock<Handler>>,
}

impl Portal {
    /// Listens at once; answers with the handler set by [`Portal::handle`] (or
    /// [`Portal::serve`]).
    pub async fn bind() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let origin = format!("http://{}", listener.local_addr()?);
        let handler = Arc::new(OnceLock::<Handler>::new());
        let installed = handler.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let Some(handler) = installed.get().cloned() else { continue };
                tokio::spawn(async move {
                    let mut request = vec![0u8; 8192];
                    let n = stream.read(&mut request).await.unwrap_or(0);
                    let head = String::from_utf8_lossy(&request[..n]).into_owned();
                    let mut parts = head.split_whitespace();
                    let (method, path) =
                        (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
                    let (status, content_type, body) = handler(method, path).await;
                    let response = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                });
            }
        });
        Ok(Self { origin, handler })
    }

    /// Answers every request with `html`.
    pub fn serve(&self, html: String) {
        self.handle(move |_, _| {
            let html = html.clone();
            async move { (200, "text/html", html) }
        });
    }

    pub fn handle<F, Fut>(&self, f: F)
    where
        F: Fn(String, String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Reply> + Send + 'static,
    {
        let _ = self.handler.set(Arc::new(move |m, p| Box::pin(f(m, p))));
    }
}
