//! A minimal HTTP/1.1 keep-alive client for the load generator: one connection, one request
//! at a time, Content-Length bodies (all the server sends). Kept this small so the generator
//! costs the 2-core machine as little as possible next to the server it measures.

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub struct Connection {
    stream: BufReader<TcpStream>,
    host: String,
}

pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Connection {
    pub async fn open(addr: &str) -> std::io::Result<Connection> {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        Ok(Connection {
            stream: BufReader::new(s),
            host: addr.to_string(),
        })
    }

    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> std::io::Result<Response> {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAccept: application/fhir+json\r\n",
            self.host
        );
        if let Some(b) = body {
            req.push_str(&format!(
                "Content-Type: application/fhir+json\r\nContent-Length: {}\r\n",
                b.len()
            ));
        }
        req.push_str("\r\n");
        let s = self.stream.get_mut();
        s.write_all(req.as_bytes()).await?;
        if let Some(b) = body {
            s.write_all(b).await?;
        }
        self.read_response().await
    }

    async fn read_response(&mut self) -> std::io::Result<Response> {
        let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
        let mut line = String::new();
        self.stream.read_line(&mut line).await?;
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| bad("no status line"))?;
        let mut length = 0usize;
        loop {
            line.clear();
            if self.stream.read_line(&mut line).await? == 0 {
                return Err(bad("connection closed in headers"));
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().map_err(|_| bad("bad content-length"))?;
                }
            }
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).await?;
        Ok(Response { status, body })
    }
}
